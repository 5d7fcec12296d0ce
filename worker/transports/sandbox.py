"""The sandbox transport: a simulated phone, in the worker's process, driven by the worker's clock.

It goes through exactly the same worker, breaker and queue code as neonize. Behaviour comes from
the instance's `sandbox` JSON (see instances/validation.py): `connect` ok|fail|hang|flaky,
`send` ok|fail|flaky|reject, `fail_rate`, `latency_ms`, `receipts`, `linked`, `auto_scan`, `seed`,
`query` ok|hang|fail, and its address book: `groups` and `on_whatsapp` (worker/transports/sandbox_book.py).
Every kind of message is recorded with its own fields; a reaction, an edit or a delete changes
the message it names, and an edit or delete past WhatsApp's window fails as on neonize.
The phone's side lives in the database (SandboxPhone: scan requests and the linked JID;
SandboxReceived: what it received; SandboxIncoming: what its contacts send the account, reported
as neonize reports a received message, and the changes they make to groups and to their
pictures, reported as neonize reports those), so the API, commands and tests in other processes
drive and read it, and it survives a worker restart.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import itertools
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from instances import sandbox_phone
from instances.models import SandboxIncoming, SandboxPhone, SandboxReceived
from worker.sessionhost import protocol as p
from worker.sessionhost.queries import QueryRefused
from worker.transports import base
from worker.transports.base import OutgoingMessage, Session, SessionSpec, TransportEvent
from worker.transports.sandbox_book import DEFAULT_ABOUT, SandboxBook

# WhatsApp's rotation: the first code lives 60 s, then five more 20 s each, then the pairing
# attempt times out (whatsmeow's QR channel behaves the same).
QR_LIFETIMES_S = (60, 20, 20, 20, 20, 20)
RECEIPT_DELAYS_S = {"delivered": 0.2, "read": 1.0}
SANDBOX_PUSH_NAME = "Sandbox Phone"

_seq = itertools.count()


def fake_qr_code(rng: random.Random) -> str:
    """A string in WhatsApp's QR format: ref,noise key,identity key,adv secret."""

    def b64(n: int) -> str:
        return base64.b64encode(rng.randbytes(n)).decode()

    return f"2@{b64(18)},{b64(32)},{b64(32)},{b64(32)}"


def fake_jid(instance_pk: int, rng: random.Random) -> str:
    """A plausible Indonesian number (+62, where Waziper is most used), stable per instance."""
    return f"628{instance_pk % 1000:03d}{rng.randrange(10**6):06d}:{rng.randrange(1, 50)}@s.whatsapp.net"


class SandboxRefusal(Exception):
    """The simulated WhatsApp says no to a question (`code`: not_found, forbidden, invalid…)."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass(order=True)
class _Timer:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


class SandboxSession(Session):
    supports_pair_phone = True

    def __init__(self, spec: SessionSpec) -> None:
        super().__init__(spec)
        self.behaviour = spec.sandbox
        self.rng = random.Random(self.behaviour.get("seed", int.from_bytes(os.urandom(4), "big")))
        self.latency = timedelta(milliseconds=self.behaviour.get("latency_ms", 0))
        self.phase = "idle"  # idle | dialing | hanging | qr | connected | closed
        self.jid = ""
        self.qr_index = 0
        self.qr_started_at: datetime | None = None
        self.scan_seen: datetime | None = None
        self.timers: list[_Timer] = []
        self.events: list[TransportEvent] = []
        # Contacts' messages reported since the transport's last poll, which marks them delivered
        # (by then the worker has stored them); a session closed first leaves them pending, and
        # the next session reports them again: the inbox stores a message once.
        self.reported: list[int] = []
        # (at, chat, "composing" | "paused"): the chat presences this session showed, for tests.
        self.presence: list[tuple[datetime, str, str]] = []
        self._book: SandboxBook | None = None  # its groups and numbers: see `book`

    # --- the worker's side -------------------------------------------------------------------
    def connect(self, now: datetime) -> None:
        if self.phase not in ("idle", "closed"):
            raise base.TransportError(f"sandbox session is already {self.phase}", retryable=False)
        self.phase = "dialing"
        self._after(now, "dial_done")

    def disconnect(self, now: datetime) -> None:
        self._stop()
        self.events.append(TransportEvent(base.DISCONNECTED, {"reason": "requested", "requested": True}))

    def logout(self, now: datetime) -> None:
        sandbox_phone.unlink(self.spec.instance_pk)
        self._stop()
        self.events.append(TransportEvent(base.LOGGED_OUT, {"reason": "requested", "requested": True}))

    def send(self, message: OutgoingMessage, now: datetime) -> None:
        if message.typing_s > 0:
            # As the neonize host does: "typing…" in the chat, then the message.
            self.presence.append((now, message.to, "composing"))
            self._after(now, "typing_done", {"message": message}, delay=timedelta(seconds=message.typing_s))
            return
        self._after(now, "send_done", {"message": message})

    def pair_phone(self, phone: str, now: datetime) -> None:
        if self.phase != "qr":
            raise base.TransportError("pairing needs a session waiting for a QR scan", retryable=True)
        code = "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTVWXYZ23456789") for _ in range(8))
        self.events.append(TransportEvent(base.PAIR_CODE, {"code": f"{code[:4]}-{code[4:]}", "phone": phone}))

    def check_alive(self, now: datetime) -> None:
        self.events.append(TransportEvent(base.PONG, {"connected": self.phase == "connected"}))

    def query(
        self, op: str, args: dict[str, Any], *, ref: str, deadline: datetime | None, now: datetime
    ) -> None:
        mode = self.behaviour.get("query", "ok")
        if mode == "hang":
            return  # the simulated WhatsApp never answers: the asker's deadline ends it
        self._after(now, "query_done", {"op": op, "args": args, "ref": ref, "deadline": deadline})

    def drop(self, reason: str = "simulated network drop") -> None:
        """Tests: the connection dies under the session (as a real socket would)."""
        self._stop()
        self.events.append(TransportEvent(base.DISCONNECTED, {"reason": reason, "requested": False}))

    def poll(self, now: datetime) -> list[TransportEvent]:
        while self.timers and self.timers[0].at <= now:
            timer = heapq.heappop(self.timers)
            getattr(self, f"_on_{timer.kind}")(timer.at, **timer.data)
        events, self.events = self.events, []
        return events

    def close(self) -> None:
        self._stop()

    # --- the simulated phone and network ------------------------------------------------------
    def _after(
        self, now: datetime, kind: str, data: dict[str, Any] | None = None, delay: timedelta | None = None
    ) -> None:
        at = now + (self.latency if delay is None else delay)
        heapq.heappush(self.timers, _Timer(at, next(_seq), kind, data or {}))

    def _stop(self) -> None:
        self.phase = "closed"
        self.timers.clear()

    def _connect_fails(self) -> bool:
        mode = self.behaviour.get("connect", "ok")
        return mode == "fail" or (
            mode == "flaky" and self.rng.random() < self.behaviour.get("fail_rate", 0.5)
        )

    def _on_dial_done(self, now: datetime) -> None:
        if self.behaviour.get("connect") == "hang":
            self.phase = "hanging"  # like a proxy that accepts and never answers: no event, ever
            return
        if self._connect_fails():
            self.phase = "closed"
            self.events.append(
                TransportEvent(
                    base.CONNECT_FAILED,
                    {
                        "error": "sandbox: failed to dial whatsapp web websocket: connection refused",
                        "retryable": True,
                    },
                )
            )
            return
        phone = SandboxPhone.objects.filter(instance_id=self.spec.instance_pk).first()
        if phone is not None and phone.linked_jid:
            self._connected(phone.linked_jid, phone.push_name or SANDBOX_PUSH_NAME)
        elif self.behaviour.get("linked"):
            self._link(now)
        else:
            self.phase = "qr"
            self.qr_index = 0
            self.qr_started_at = now
            self._next_qr(now)
            if self.behaviour.get("auto_scan"):
                self._link(now)

    def _next_qr(self, now: datetime) -> None:
        if self.qr_index >= len(QR_LIFETIMES_S):
            self._stop()
            self.events.append(TransportEvent(base.QR_TIMEOUT, {"codes_shown": self.qr_index}))
            return
        lifetime = timedelta(seconds=QR_LIFETIMES_S[self.qr_index])
        self.qr_index += 1
        self.events.append(
            TransportEvent(
                base.QR, {"code": fake_qr_code(self.rng), "expires_at": (now + lifetime).isoformat()}
            )
        )
        self._after(now, "qr_expired", {"index": self.qr_index}, delay=lifetime)

    def _on_qr_expired(self, now: datetime, index: int) -> None:
        if self.phase == "qr" and index == self.qr_index:
            self._next_qr(now)

    def scanned(self, now: datetime) -> None:
        """The phone scanned the QR shown now (SandboxTransport.poll found the request)."""
        if self.phase == "qr":
            self._link(now)

    def _link(self, now: datetime) -> None:
        jid = fake_jid(self.spec.instance_pk, self.rng)
        SandboxPhone.objects.update_or_create(
            instance_id=self.spec.instance_pk,
            defaults={
                "linked_jid": jid,
                "push_name": SANDBOX_PUSH_NAME,
                "linked_at": now,
                "scan_requested_at": None,
            },
        )
        self.events.append(TransportEvent(base.PAIRED, {"jid": jid, "push_name": SANDBOX_PUSH_NAME}))
        self._connected(jid, SANDBOX_PUSH_NAME)

    def _connected(self, jid: str, push_name: str) -> None:
        self.phase = "connected"
        self.jid = jid
        self.timers = [t for t in self.timers if t.kind != "qr_expired"]
        heapq.heapify(self.timers)
        self.events.append(TransportEvent(base.CONNECTED, {"jid": jid, "push_name": push_name}))

    def _on_send_done(self, now: datetime, message: OutgoingMessage) -> None:
        if self.phase != "connected":
            self.events.append(
                _send_failed(message.ref, "sandbox: not connected", retryable=True, dead_socket=True)
            )
            return
        mode = self.behaviour.get("send", "ok")
        if mode == "reject":
            self.events.append(
                _send_failed(message.ref, "sandbox: recipient is not on WhatsApp", retryable=False)
            )
            return
        if mode == "fail" or (mode == "flaky" and self.rng.random() < self.behaviour.get("fail_rate", 0.5)):
            self.events.append(_send_failed(message.ref, "sandbox: send failed (simulated)", retryable=True))
            return
        if message.not_after is not None and now > message.not_after:
            # What the neonize host answers: the window closed before the message could go.
            self.events.append(
                _send_failed(message.ref, p.window_closed_error(message.kind), retryable=False)
            )
            return
        wa_id = "3EB0" + self.rng.randbytes(8).hex().upper()
        media_bytes = os.path.getsize(message.media_path) if message.media_path else 0
        SandboxReceived.objects.create(
            instance_id=self.spec.instance_pk,
            wa_message_id=wa_id,
            chat_id=message.to,
            kind=message.kind,
            text=message.text,
            media_url=message.media_url,
            filename=message.filename,
            media_bytes=media_bytes,
            ref=message.ref,
            fields=self._received_fields(message, now),
            received_at=now,
        )
        self.events.append(
            TransportEvent(base.SEND_RESULT, {"ref": message.ref, "ok": True, "message_id": wa_id})
        )
        receipts = self.behaviour.get("receipts", "read")
        for kind in ("delivered", "read"):
            if receipts == "none" or (receipts == "delivered" and kind == "read"):
                break
            delay = timedelta(seconds=RECEIPT_DELAYS_S[kind])
            self._after(now, "receipt", {"ids": [wa_id], "kind": kind}, delay=delay)

    def _on_typing_done(self, now: datetime, message: OutgoingMessage) -> None:
        if self.phase == "connected":
            self.presence.append((now, message.to, "paused"))
        self._after(now, "send_done", {"message": message})

    def _received_fields(self, message: OutgoingMessage, now: datetime) -> dict[str, Any]:
        """What the phone records of a message beyond its text and media, after applying a
        reaction, edit or delete to the message it names. A target the phone never received is
        recorded with `applied: false`: WhatsApp accepts such a message and changes nothing."""
        fields: dict[str, Any] = dict(message.fields)
        if message.quoted:
            fields["quoted_message_id"] = message.quoted.get("wa_message_id", "")
        if message.mentions:
            fields["mentions"] = list(message.mentions)
        if message.typing_s:
            fields["typing_s"] = message.typing_s
        if message.target:
            target_id = str(message.target.get("wa_message_id") or "")
            fields["target_message_id"] = target_id
            fields["applied"] = self._apply(message, target_id, now)
        return fields

    def _apply(self, message: OutgoingMessage, target_id: str, now: datetime) -> bool:
        target = (
            SandboxReceived.objects.filter(instance_id=self.spec.instance_pk, wa_message_id=target_id)
            .order_by("-id")
            .first()
        )
        if target is None:
            return False
        if message.kind == "reaction":
            emoji = str(message.fields.get("emoji") or "")
            if emoji:
                target.fields = {**target.fields, "reaction": emoji}
            else:
                target.fields = {k: v for k, v in target.fields.items() if k != "reaction"}
            target.save(update_fields=["fields"])
        elif message.kind == "edit":
            target.text, target.edited_at = message.text, now
            target.save(update_fields=["text", "edited_at"])
        elif message.kind == "delete":
            target.revoked_at = now
            target.save(update_fields=["revoked_at"])
        return True

    def _on_query_done(
        self, now: datetime, op: str, args: dict[str, Any], ref: str, deadline: datetime | None
    ) -> None:
        def answer(**fields: Any) -> None:
            self.events.append(TransportEvent(base.QUERY_RESULT, {"ref": ref, **fields}))

        if deadline is not None and now >= deadline:
            return answer(ok=False, error="the question expired before it could run", code="expired")
        if self.phase != "connected":
            return answer(ok=False, error="not connected", code="unavailable")
        if self.behaviour.get("query") == "fail":
            return answer(ok=False, error="sandbox: WhatsApp refused the question (simulated)", code="failed")
        handler = getattr(self, f"_answer_{op}", None)
        if handler is None:
            return answer(ok=False, error=f"sandbox cannot answer {op!r}", code="unsupported")
        try:
            data = handler(args, now)
        except (SandboxRefusal, QueryRefused) as exc:
            return answer(ok=False, error=str(exc), code=exc.code)
        answer(ok=True, data=data)

    # Questions to the simulated phone: its own profile, and its address book (groups and
    # which numbers have WhatsApp, from the behaviour JSON; changes last as long as the session).
    @property
    def book(self) -> SandboxBook:
        if self._book is None:
            self._book = SandboxBook(self.behaviour, self.jid, self.rng)
        return self._book

    def _answer_profile(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        name = (
            SandboxPhone.objects.filter(instance_id=self.spec.instance_pk)
            .values_list("push_name", flat=True)
            .first()
        )
        return {
            "jid": self.jid,
            "name": name or SANDBOX_PUSH_NAME,
            "picture_url": None,
            "about": DEFAULT_ABOUT,
        }

    def _answer_groups(self, args: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
        return self.book.list_groups(args)

    def _answer_group_info(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self.book.group_info(args)

    def _answer_group_create(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self.book.create(args, now)

    def _answer_group_participants(self, args: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
        return self.book.change_participants(args)

    def _answer_group_invite_link(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self.book.invite_link(args)

    def _answer_group_leave(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self.book.leave(args)

    def _answer_check_numbers(self, args: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
        return self.book.check_numbers(args)

    def _answer_picture(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self.book.picture(args)

    def _answer_mark_read(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self.book.mark_read(args)

    def _answer_download_media(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        media = sandbox_phone.media_of(self.spec.instance_pk, str(args.get("wa_message_id", "")))
        if not media:
            raise SandboxRefusal("sandbox: the contact sent no media with this message", "not_found")
        max_bytes = args.get("max_bytes")
        if isinstance(max_bytes, int) and len(media) > max_bytes:
            raise SandboxRefusal(
                f"sandbox: the media is {len(media)} bytes, more than the {max_bytes} allowed", "too_large"
            )
        return {
            "size": len(media),
            "sha256": hashlib.sha256(media).hexdigest(),
            "base64": base64.b64encode(media).decode("ascii"),
        }

    def receive(self, row: SandboxIncoming, now: datetime) -> None:
        """A contact's message, or WhatsApp's notice of a change, reaches the connected account:
        reported as neonize would. A group's change changes the group in the phone's book too."""
        if self.phase != "connected":
            return
        kind = row.message.get("kind")
        if kind == sandbox_phone.GROUP_UPDATE:
            event = TransportEvent(base.GROUP_CHANGED, group_change_from_contact(row))
            self.book.apply_change(row.message["group"], row.message["changes"], row.message["participants"])
        elif kind == sandbox_phone.CONTACT_UPDATE:
            event = TransportEvent(base.CONTACT_CHANGED, picture_change_from_contact(row))
        else:
            event = TransportEvent(base.INCOMING, incoming_from_contact(row))
        self.events.append(event)
        self.reported.append(row.pk)

    def _on_receipt(self, now: datetime, ids: list[str], kind: str) -> None:
        if self.phase == "connected":
            self.events.append(
                TransportEvent(base.RECEIPT, {"message_ids": ids, "kind": kind, "at": now.isoformat()})
            )


def _send_failed(ref: str, error: str, *, retryable: bool, dead_socket: bool = False) -> TransportEvent:
    return TransportEvent(
        base.SEND_RESULT,
        {"ref": ref, "ok": False, "error": error, "retryable": retryable, "dead_socket": dead_socket},
    )


class SandboxTransport(base.Transport):
    name = "sandbox"

    def open_session(self, spec: SessionSpec) -> SandboxSession:
        return SandboxSession(spec)

    def poll(self, sessions: list[Session], now: datetime) -> None:
        """One query for every session showing a QR (has its phone been asked to scan?), and one
        for the contacts' messages waiting for the connected ones."""
        ours = [s for s in sessions if isinstance(s, SandboxSession)]
        reported = [pk for s in ours for pk in s.reported]
        if reported:
            sandbox_phone.mark_delivered(reported, now)
            for s in ours:
                s.reported.clear()
        connected = {s.spec.instance_pk: s for s in ours if s.phase == "connected"}
        if connected:
            for row in sandbox_phone.pending(connected):
                connected[row.instance_id].receive(row, now)
        waiting = {s.spec.instance_pk: s for s in ours if s.phase == "qr"}
        if not waiting:
            return
        requested = SandboxPhone.objects.filter(
            instance_id__in=waiting, scan_requested_at__isnull=False
        ).values_list("instance_id", "scan_requested_at")
        for instance_pk, _requested_at in requested:
            waiting[instance_pk].scanned(now)


# -- a contact's message, as neonize reports one ---------------------------------------------------


def hidden_id(phone: str) -> str:
    """A stable stand-in for the hidden (@lid) id WhatsApp gives a number."""
    return str(int(hashlib.sha256(phone.encode()).hexdigest()[:12], 16) % 10**15).zfill(15)


def incoming_from_contact(row: SandboxIncoming) -> dict[str, Any]:
    """The `incoming` event data neonize's host would report for this message (the same fields
    worker/sessionhost/messages.py builds from WhatsApp's protobufs, raw copy included), sent
    when the contact sent it, however much later the account receives it."""
    message, sent_at = row.message, row.created_at
    kind, phone, group = message["kind"], message["from"], message.get("group", "")
    sender = f"{hidden_id(phone)}@lid" if message.get("lid") else f"{phone}@s.whatsapp.net"
    chat = group or sender
    data: dict[str, Any] = {
        "message_id": row.wa_message_id,
        "chat": chat,
        "sender": sender,
        "sender_phone": phone,
        "from_me": False,
        "is_group": bool(group),
        "push_name": message.get("push_name", ""),
        "kind": kind,
        "text": message.get("text", ""),
        "at": sent_at.isoformat(),
    }
    if message.get("quoted_message_id"):
        data["quoted_message_id"] = message["quoted_message_id"]
    if message.get("target_message_id"):
        data["target_id"] = message["target_message_id"]
    if kind in sandbox_phone.MEDIA_KINDS:
        data["media"] = {
            "mimetype": message["mimetype"],
            "size": message["size"],
            "filename": message.get("filename", ""),
            "sha256": message["sha256"],
            "download": {"media_type": kind, "source": "sandbox"},
        }
    details = _details(message)
    if details:
        data["details"] = details
    key: dict[str, Any] = {"remoteJid": chat, "fromMe": False, "id": row.wa_message_id}
    if group:
        key["participant"] = sender
    data["raw"] = {
        "key": key,
        "message": _proto_shaped(message, chat, sent_at),
        "messageTimestamp": int(sent_at.timestamp()),
        "pushName": message.get("push_name", ""),
    }
    return data


def group_change_from_contact(row: SandboxIncoming) -> dict[str, Any]:
    """The `group_changed` event data neonize's host reports for whatsmeow's GroupInfo (only
    what changed; participants by JID)."""
    update = row.message
    participants = {
        change: [f"{phone}@s.whatsapp.net" for phone in phones]
        for change, phones in update["participants"].items()
    }
    data: dict[str, Any] = {
        "group_id": update["group"],
        "at": row.created_at.isoformat(),
        "changes": dict(update["changes"]),
        "participants": participants,
    }
    if update.get("by"):
        data["by"] = f"{update['by']}@s.whatsapp.net"
    return data


def picture_change_from_contact(row: SandboxIncoming) -> dict[str, Any]:
    """The `contact_changed` event data neonize's host reports for whatsmeow's Picture."""
    update, phone = row.message, row.message["from"]
    contact = f"{hidden_id(phone)}@lid" if update.get("lid") else f"{phone}@s.whatsapp.net"
    return {
        "contact_id": contact,
        "phone": phone,
        "by": contact,
        "at": row.created_at.isoformat(),
        "changes": {"picture": update["picture"]},
    }


def _details(message: dict[str, Any]) -> dict[str, Any]:
    kind = message["kind"]
    if kind == "location":
        location = {"latitude": message["latitude"], "longitude": message["longitude"], "live": False}
        return {
            "location": {**location, "name": message.get("name", ""), "address": message.get("address", "")}
        }
    if kind == "contact":
        return {"contacts": message["contacts"]}
    if kind == "poll":
        poll = {"question": message["question"], "options": message["options"]}
        return {"poll": {**poll, "selectable_count": message["selectable_count"]}}
    return {}


_MEDIA_FIELDS = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}


def _proto_shaped(message: dict[str, Any], chat: str, now: datetime) -> dict[str, Any]:
    """The message as google.protobuf's MessageToDict renders WhatsApp's protobuf (int64 as
    strings, bytes as base64, enums by name): what the neonize host's raw copy holds."""
    kind, text = message["kind"], message.get("text", "")
    context = {"stanzaID": message["quoted_message_id"]} if message.get("quoted_message_id") else None
    millis = str(int(now.timestamp() * 1000))
    target = {"remoteJID": chat, "fromMe": False, "ID": message.get("target_message_id", "")}
    if kind == "text":
        if context is None:
            return {"conversation": text}
        return {"extendedTextMessage": {"text": text, "contextInfo": context}}
    if kind in _MEDIA_FIELDS:
        part: dict[str, Any] = {
            "mimetype": message["mimetype"],
            "fileLength": str(message["size"]),
            "fileSHA256": base64.b64encode(bytes.fromhex(message["sha256"])).decode("ascii"),
        }
        if text:
            part["caption"] = text
        if kind == "document":
            part.update(fileName=message.get("filename", ""), title=message.get("filename", ""))
        if context is not None:
            part["contextInfo"] = context
        return {_MEDIA_FIELDS[kind]: part}
    if kind == "location":
        return {
            "locationMessage": {
                "degreesLatitude": message["latitude"],
                "degreesLongitude": message["longitude"],
                "name": message.get("name", ""),
                "address": message.get("address", ""),
            }
        }
    if kind == "contact":
        [contact] = message["contacts"]
        return {"contactMessage": {"displayName": contact["display_name"], "vcard": contact["vcard"]}}
    if kind == "poll":
        return {
            "pollCreationMessageV3": {
                "name": message["question"],
                "options": [{"optionName": option} for option in message["options"]],
                "selectableOptionsCount": message["selectable_count"],
            }
        }
    if kind == "reaction":
        return {"reactionMessage": {"key": target, "text": text, "senderTimestampMS": millis}}
    if kind == "edit":
        edited = {"conversation": text}
        return {
            "protocolMessage": {
                "key": target,
                "type": "MESSAGE_EDIT",
                "editedMessage": edited,
                "timestampMS": millis,
            }
        }
    return {"protocolMessage": {"key": target, "type": "REVOKE"}}
