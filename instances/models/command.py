from __future__ import annotations

from django.db import models


class InstanceCommand(models.Model):
    """A request from the web side to whichever worker holds the instance (log out, pair by
    phone, reconnect now, or a question for the live session). The worker takes pending commands
    of the instances it holds and writes the result back (instances/commands.py)."""

    class Kind(models.TextChoices):
        LOGOUT = "logout"
        PAIR_PHONE = "pair_phone"
        RECONNECT = "reconnect"
        QUERY = "query"  # payload: {"op": …, "args": {…}}; result: {"data": …} or {"error", "code"}

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="commands")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    # Not to be started after this (a web request waiting for the answer gives up then).
    deadline = models.DateTimeField(null=True, blank=True)
    taken_by = models.CharField(max_length=64, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["finished_at", "instance"], name="command_pending")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.instance_id} ({'done' if self.finished_at else 'pending'})"
