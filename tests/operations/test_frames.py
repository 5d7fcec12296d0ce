"""operations.frames: what live pages get never carries the gateway's internal addresses."""

from __future__ import annotations

import pytest
from django.utils import timezone

from instances.models import Instance
from operations.frames import event_frame, snapshot

DETAIL = "dial tcp 10.0.0.5:1080: connect: connection refused"
SHOWN = "dial tcp <address>: connect: connection refused"


def test_a_status_frames_detail_is_redacted() -> None:
    frame = event_frame(7, "status", {"status": "disconnected", "detail": DETAIL}, timezone.now())
    assert frame["detail"] == SHOWN


@pytest.mark.django_db
def test_the_snapshots_detail_is_redacted(instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk).update(status_detail=DETAIL)
    assert snapshot(instance, 0)["detail"] == SHOWN
