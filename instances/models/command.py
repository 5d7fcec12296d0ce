from __future__ import annotations

from django.db import models


class InstanceCommand(models.Model):
    """A request from the web side to whichever worker holds the instance (logout, pair by
    phone, reconnect now). The database is the only channel between the two (DESIGN "Shape");
    the worker takes pending commands of the instances it holds and writes the result back."""

    class Kind(models.TextChoices):
        LOGOUT = "logout"
        PAIR_PHONE = "pair_phone"
        RECONNECT = "reconnect"

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="commands")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    taken_by = models.CharField(max_length=64, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["finished_at", "instance"], name="command_pending")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.instance_id} ({'done' if self.finished_at else 'pending'})"
