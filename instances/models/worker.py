from __future__ import annotations

from django.db import models


class WorkerProcess(models.Model):
    """One `run_worker` process: registration, heartbeat and what it holds (for /health, cleanup)."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    capacity = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    instances_held = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-heartbeat_at"]
        verbose_name_plural = "worker processes"

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"
