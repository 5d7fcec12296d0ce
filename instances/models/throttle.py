from __future__ import annotations

from django.db import models


class ThrottleBucket(models.Model):
    """One token bucket (kernel/throttles.py) kept in the database, so that every web process
    counts against the same budget: requests per access token, failed authentications per
    client address. Written only by instances/throttling.py."""

    key = models.CharField(max_length=120, unique=True)
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["updated_at"], name="throttle_bucket_updated")]

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.2f}"
