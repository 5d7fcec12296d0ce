"""The admin's pages for every app's tables (Django's admin autodiscovery imports this module)."""

from dashboard.admin import (  # noqa: F401  (registers the ModelAdmins)
    breaker,
    inbox,
    instances,
    queueing,
    webhooks,
)
