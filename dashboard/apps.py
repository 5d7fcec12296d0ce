from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The operators' side: the admin's pages for every app, and the live pages inside it."""

    name = "dashboard"
    verbose_name = "Dashboard"
