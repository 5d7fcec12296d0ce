"""The worker's writes of actual state."""

from __future__ import annotations

import pytest
from django.utils import timezone

from instances.actual_state import InstanceGone, store_qr, write_state
from instances.models import Instance, InstanceEvent

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]


def test_a_status_written_for_a_deleted_instance_raises_instance_gone(instance: Instance) -> None:
    pk = instance.pk
    instance.delete()
    with pytest.raises(InstanceGone):
        write_state(pk, timezone.now(), status="connected", previous_status="connecting")


def test_a_qr_stored_for_a_deleted_instance_raises_instance_gone_and_writes_no_event(
    instance: Instance,
) -> None:
    pk = instance.pk
    Instance.objects.filter(pk=pk).delete()
    with pytest.raises(InstanceGone):
        store_qr(pk, "2@abc", None, timezone.now(), "qr_pending")
    assert not InstanceEvent.objects.filter(instance_id=pk).exists()


def test_a_status_change_writes_the_row_and_one_event(instance: Instance) -> None:
    write_state(instance.pk, timezone.now(), status="connecting", previous_status="stopped", detail="")
    instance.refresh_from_db()
    assert instance.status == "connecting"
    assert InstanceEvent.objects.filter(instance=instance, kind="status").count() == 1
