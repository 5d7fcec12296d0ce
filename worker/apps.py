from __future__ import annotations

from django.apps import AppConfig


class WorkerConfig(AppConfig):
    """The worker process (`manage.py run_worker`): sessions, the queue's sending, cleanup."""

    name = "worker"
    verbose_name = "Worker"
