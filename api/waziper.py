"""Answers of Waziper's server that more than one path gives: its paths at the root and the
public API under /api/ (which passes the server's answers through) share them."""

from __future__ import annotations

import functools
import zlib
from typing import Any
from urllib.parse import quote, urlencode

from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.responses import breaker_refusal, session_errors
from api.serializers.groups import GroupSerializer
from api.serializers.instances import InstanceSerializer
from breaker.service import Outlook, outlook
from instances import commands
from instances import service as instances_service
from instances.models import Instance
from instances.qr import qr_data_uri
from kernel import waiting
from kernel.envelope import error, success
from operations import control, session_queries
from operations import groups as operations_groups
from queueing.enqueue import Enqueued
from queueing.models import QueuedMessage
from queueing.validation import full_jid

NOT_LINKED = "Error"
ALREADY_LINKED = "It seems that you have logged in successfully"
NO_QR = "Unable to create session. Please try again in a few minutes."
_LINKED = "linked"  # poll() result: the phone got linked while we waited for a QR
LOGGED_OUT_BEFORE = "This account seems to have logged out before."
LOGGED_OUT = "Logged out successfully"
# How long a logout waits for the holding worker to confirm before answering 202.
LOGOUT_WAIT_S = 10.0
MESSAGE_QUEUED = "Message queued"
MESSAGE_REPLAYED = "Message already queued (Idempotency-Key replay)"
_SENT = (QueuedMessage.Status.SENT, QueuedMessage.Status.DELIVERED, QueuedMessage.Status.READ)
_SETTLED = (*_SENT, QueuedMessage.Status.FAILED, QueuedMessage.Status.CANCELLED)
# Waziper's avatar: a picture of the name's initials drawn by ui-avatars.com, on one of these.
AVATAR_SERVICE = "https://ui-avatars.com/api/"
AVATAR_COLOURS = ("E74645", "FB7756", "FACD60", "12492F", "F7A400", "58B368")


def phone_of(jid: str) -> str:
    """The number of a JID (`6281234567890:12@s.whatsapp.net` → `6281234567890`)."""
    return jid.split("@", 1)[0].split(":", 1)[0]


def avatar_url(name: str, seed: str) -> str:
    """Waziper's avatar URL for `name`; the colour is picked by `seed` (Waziper picks it at
    random on every call, which makes a client's cached picture flicker)."""
    colour = AVATAR_COLOURS[zlib.crc32(seed.encode("utf-8")) % len(AVATAR_COLOURS)]
    query = {"background": colour, "color": "fff", "font-size": "0.5", "rounded": "false", "format": "png"}
    return f"{AVATAR_SERVICE}?name={quote(name)}&{urlencode(query)}"


def linked_user(instance: Instance) -> dict[str, str | None]:
    """Waziper's `data` for a linked phone: `id` (its JID), `name` (its push name, else its
    number) and `avatar`; all null when no phone is linked."""
    if not instance.jid:
        return {"id": None, "name": None, "avatar": None}
    name = instance.push_name or phone_of(instance.jid)
    return {"id": instance.jid, "name": name, "avatar": avatar_url(name, instance.jid)}


def instance_state(instance: Instance, request: Request, look: Outlook) -> dict[str, Any]:
    """Waziper's user fields, then the instance as this project shows it, its breaker last.
    `name` is Waziper's (the push name); the instance's own name is `instance_name`."""
    shown = dict(InstanceSerializer(instance, context={"request": request}).data)
    shown["instance_name"] = shown.pop("name")
    return {**linked_user(instance), **shown, "breaker": look.as_dict()}


def instance_answer(request: Request, instance: Instance) -> Response:
    """GET /instance: start the session unless it is parked, then Waziper's answer: the
    breaker's refusal (503), `success` with the linked phone, or `error` + `relogin: true` when
    no phone is linked (a state, not a failure: HTTP 200). The instance's state is `data`
    either way."""
    instances_service.ensure_running(instance)
    look = outlook(instance, timezone.now())
    if not look.allows_connect:
        return breaker_refusal(look)
    data = instance_state(instance, request, look)
    if instance.jid:
        return success("Success", data)
    return error(NOT_LINKED, http_status=200, relogin=True, data=data)


def logout_answer(instance: Instance, *, done_message: str = LOGGED_OUT) -> Response:
    """Log the phone out and delete the session store: at once when no worker holds the
    session, else by the holding worker, waited for up to LOGOUT_WAIT_S (202 if it has not
    finished). An instance logged out already answers Waziper's 409, logged out before."""
    if instance.status == Instance.Status.LOGGED_OUT:
        return error(LOGGED_OUT_BEFORE, http_status=status.HTTP_409_CONFLICT)
    command = control.logout(instance)
    result = {} if command is None else commands.wait_for(command.pk, LOGOUT_WAIT_S)
    if result is None:
        return success(
            "Logout requested; the worker is logging the session out.",
            http_status=status.HTTP_202_ACCEPTED,
            instance_id=instance.instance_id,
        )
    if result.get("error"):
        return error(f"Logout failed: {result['error']}", http_status=status.HTTP_502_BAD_GATEWAY)
    return success(done_message, instance_id=instance.instance_id)


def _settled(message_pk: int) -> QueuedMessage | None:
    message = QueuedMessage.objects.filter(pk=message_pk).first()
    return message if message is None or message.status in _SETTLED else None


def whatsapp_message(message: QueuedMessage) -> dict[str, Any]:
    """A sent message as Waziper's server shows it (WhatsApp's message info): its `key` (the
    chat's JID, fromMe, WhatsApp's id), `messageTimestamp` (seconds, as a string) and
    `status: SUCCESS`."""
    sent_at = message.sent_at or timezone.now()
    return {
        "key": {"remoteJid": full_jid(message.chat_id), "fromMe": True, "id": message.wa_message_id},
        "messageTimestamp": str(int(sent_at.timestamp())),
        "status": "SUCCESS",
    }


def send_answer(enqueued: Enqueued, wait: float) -> Response:
    """The answer to a queued message. With `wait` (seconds), first wait that long for the
    worker to send it: sent, Waziper's answer (`message` is WhatsApp's message info, HTTP 200);
    failed, 502 with the reason. Otherwise this project's: 202 queued (200 for an
    Idempotency-Key replay) with the message's id and status."""
    message = enqueued.message
    if wait > 0:
        settled: QueuedMessage | None = waiting.poll(functools.partial(_settled, message.pk), wait)
        message = settled or message
    data = {"message_id": str(message.message_id), "status": message.status}
    if message.status in _SENT:
        return Response({"status": "success", "message": whatsapp_message(message), "data": data})
    if message.status == QueuedMessage.Status.FAILED:
        return error(
            f"Message failed: {message.last_error or 'WhatsApp refused it'}",
            http_status=status.HTTP_502_BAD_GATEWAY,
            data=data,
        )
    if enqueued.created:
        return success(MESSAGE_QUEUED, data, http_status=status.HTTP_202_ACCEPTED)
    return success(MESSAGE_REPLAYED, data)


def _qr_or_linked(instance: Instance) -> instances_service.ShownQr | str | None:
    instance.refresh_from_db(fields=["status", "last_qr", "qr_expires_at"])
    if instance.status == Instance.Status.CONNECTED:
        return _LINKED
    return instances_service.shown_qr(instance, timezone.now())


def qr_answer(request: Request, instance: Instance, wait: float) -> Response:
    """GET /get_qrcode: the QR code being shown, else start the session (closing an open
    breaker, recorded as a QR-request reset) and wait up to `wait` seconds for one. A linked
    phone is never logged out for it (Waziper's server does): 409 in Waziper's words."""
    now = timezone.now()
    if instance.status == Instance.Status.CONNECTED:
        return error(ALREADY_LINKED, http_status=status.HTTP_409_CONFLICT)
    found: instances_service.ShownQr | str | None = instances_service.shown_qr(instance, now)
    if found is None:
        control.start_for_qr(instance, user=request.user, now=now)
        found = waiting.poll(functools.partial(_qr_or_linked, instance), wait)
    if found == _LINKED:
        return error(ALREADY_LINKED, http_status=status.HTTP_409_CONFLICT)
    if isinstance(found, instances_service.ShownQr):
        return success(
            "Success",
            base64=qr_data_uri(found.code),
            qr=found.code,
            expires_at=found.expires_at.isoformat() if found.expires_at else None,
        )
    look = outlook(instance, timezone.now())
    if not look.allows_connect:
        return breaker_refusal(look)
    return error(NO_QR, http_status=status.HTTP_503_SERVICE_UNAVAILABLE, instance_status=instance.status)


def waziper_participant(participant: dict[str, Any]) -> dict[str, Any]:
    """A participant as Waziper's server shows one: `admin` is "superadmin", "admin" or null
    (its meaning wins the name; this project's flag is `is_admin`)."""
    role = "superadmin" if participant.get("superadmin") else "admin" if participant.get("admin") else None
    rest = {key: value for key, value in participant.items() if key not in ("id", "admin")}
    return {"id": participant["id"], "admin": role, **rest, "is_admin": bool(participant.get("admin"))}


def waziper_group(group: dict[str, Any]) -> dict[str, Any]:
    """A group (as GroupSerializer shows it) as Waziper's server shows one: `id`, `name`, `size`,
    `desc` and `participants` first, this project's fields after them."""
    rest = {key: value for key, value in group.items() if key not in ("id", "name", "size", "participants")}
    return {
        "id": group["id"],
        "name": group["name"],
        "size": group["size"],
        "desc": group.get("description", ""),
        "participants": [waziper_participant(p) for p in group.get("participants", [])],
        **rest,
    }


def groups_answer(instance: Instance, *, refresh: bool = False) -> Response:
    """GET /get_groups: Waziper's list of the account's groups, from the directory's cache while
    fresh, else asked of the live session. With no live session to ask, an empty list, as
    Waziper's server gives (`instance_status` and `reason` say why); a session that does not
    answer in time or refuses is an error (504, 502 …)."""
    with session_errors():
        try:
            answer = operations_groups.list_groups(instance, refresh=refresh)
        except session_queries.SessionUnavailable as exc:
            return success(
                "Success",
                [],
                count=0,
                fetched_at=None,
                cached=False,
                instance_status=exc.status,
                reason=exc.reason,
            )
    shown = [waziper_group(group) for group in GroupSerializer(answer.data, many=True).data]
    return success(
        "Success", shown, count=len(shown), fetched_at=answer.fetched_at.isoformat(), cached=answer.cached
    )
