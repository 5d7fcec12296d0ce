"""What a page receives: the snapshot it starts from and one frame per outbox event.

Sync functions; the consumer and the relay call them from a thread, never on the event loop.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.utils import timezone

from breaker import service as breaker_service
from instances.models import Instance, InstanceEvent
from instances.qr import qr_data_uri
from instances.redaction import redact_internals
from instances.service import shown_qr

# A replay longer than this is cut: a page that was away that long reloads from the snapshot.
REPLAY_LIMIT = 500
_JID_USER = re.compile(r"^(\d+)")
# ASCII digits only (str.isdigit() also takes "²", which int() refuses) and few enough for int()
# (which refuses over 4,300 digits) and for a 64-bit id column.
_EVENT_ID = re.compile(r"[0-9]{1,18}")


def parse_since(raw: str | None) -> int | None:
    """A page's `?since=` as an event id, or None when it is not one (then it is ignored)."""
    if raw is None or not _EVENT_ID.fullmatch(raw.strip()):
        return None
    return int(raw)


def phone_from_jid(jid: str) -> str:
    """`628123456789:12@s.whatsapp.net` → `+628123456789` (empty if the JID has no number)."""
    match = _JID_USER.match(jid or "")
    return f"+{match.group(1)}" if match else ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def event_frame(event_id: int, kind: str, payload: dict[str, Any], created_at: datetime) -> dict[str, Any]:
    """One outbox row as the frame every page watching its instance gets.

    Payload keys pass through (status events carry jid, retry_attempts…), but never over the
    frame's own `type` and `id`. QR frames carry the rendered image so a page needs no QR code
    library; the relay renders it once per event, not once per page.
    """
    frame: dict[str, Any] = {**payload, "type": kind, "id": event_id, "at": _iso(created_at)}
    if isinstance(payload.get("detail"), str):  # one frame for every watcher: redacted for all
        frame["detail"] = redact_internals(payload["detail"])
    if kind == InstanceEvent.Kind.QR:
        code = str(payload.get("qr") or "")
        frame["base64"] = qr_data_uri(code) if code else None
    elif kind == InstanceEvent.Kind.STATUS and payload.get("jid"):
        frame["phone"] = phone_from_jid(str(payload["jid"]))
    return frame


def frame_of(event: InstanceEvent) -> dict[str, Any]:
    return event_frame(event.id, event.kind, event.payload, event.created_at)


def breaker_view(instance: Instance, now: datetime) -> dict[str, Any]:
    status = breaker_service.status(instance, now=now, recent=0)
    keys = ("state", "failures_in_window", "threshold", "window_s", "open_until", "retry_after_s")
    return {key: status[key] for key in (*keys, "forced_reason", "last_reset_at")}


def snapshot(instance: Instance, last_event_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Everything the "Link phone" page shows, as of the moment of the call.

    `last_event_id` is where the live stream takes over: every event up to it is reflected here
    (or replayed by `since`), every later one is pushed.
    """
    now = now or timezone.now()
    instance.refresh_from_db()
    qr = shown_qr(instance, now)
    return {
        "type": "snapshot",
        "instance_id": instance.instance_id,
        "name": instance.name,
        "transport": instance.transport,
        "sandbox": instance.is_sandbox,
        "desired_state": instance.desired_state,
        "status": instance.status,
        "status_label": instance.get_status_display(),
        "detail": redact_internals(instance.status_detail),
        "jid": instance.jid,
        "phone": phone_from_jid(instance.jid),
        "push_name": instance.push_name,
        "connected_at": _iso(instance.connected_at),
        "qr": qr.code if qr else None,
        "base64": qr_data_uri(qr.code) if qr else None,
        "expires_at": _iso(qr.expires_at) if qr else None,
        "breaker": breaker_view(instance, now),
        "server_time": now.isoformat(),
        "last_event_id": last_event_id,
    }


def replay(instance: Instance, since: int, upto: int | None = None) -> list[dict[str, Any]]:
    """Frames of `instance`'s events after `since` (and up to `upto`), oldest first."""
    rows = InstanceEvent.objects.filter(instance=instance, id__gt=since)
    if upto is not None:
        rows = rows.filter(id__lte=upto)
    return [{**frame_of(event), "replay": True} for event in rows.order_by("id")[:REPLAY_LIMIT]]


def latest_event_id() -> int:
    """The outbox's newest id (0 when empty): where a freshly started relay begins."""
    return InstanceEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
