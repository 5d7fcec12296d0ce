"""The admin's pages for every app's tables (Django's admin autodiscovery imports this module)."""

from dashboard.admin import breaker, instances, queueing, webhooks  # noqa: F401  (registers the ModelAdmins)
