from __future__ import annotations

import base64
import mimetypes
import os
from typing import Any

from django.core.management.base import CommandError, CommandParser

from cli.sandbox_phone import queue_from_phone
from instances import sandbox_phone
from kernel.commands import WaziperCommand

# option -> the field of instances.sandbox_phone it fills
_FIELDS = {
    "sender": "from",
    "kind": "kind",
    "text": "text",
    "caption": "caption",
    "filename": "filename",
    "mimetype": "mimetype",
    "size": "size",
    "latitude": "latitude",
    "longitude": "longitude",
    "name": "name",
    "address": "address",
    "vcard": "vcard",
    "contact_name": "contact_name",
    "contact_phone": "contact_phone",
    "question": "question",
    "options": "options",
    "selectable_count": "selectable_count",
    "emoji": "emoji",
    "target": "target_message_id",
    "quote": "quoted_message_id",
    "group": "group",
    "push_name": "push_name",
    "lid": "lid",
}


class Command(WaziperCommand):
    help = (
        "A contact of the sandbox instance's simulated phone sends it a message (any kind): the "
        "worker delivers it to the inbox while the instance is connected, or once it connects."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("instance_id", metavar="ID")
        parser.add_argument(
            "--from", dest="sender", required=True, metavar="PHONE", help="the contact's number"
        )
        parser.add_argument("--kind", choices=sandbox_phone.KINDS, help="text (default), image, …, revoke")
        parser.add_argument("--text", help="the text (text, edit) or a caption")
        parser.add_argument("--caption")
        parser.add_argument("--file", metavar="PATH", help="media: the file the contact sends (≤ 1 MiB)")
        parser.add_argument("--filename", help="a document's file name (default: the file's)")
        parser.add_argument("--mimetype", help="default: guessed from the file, or the kind's usual one")
        parser.add_argument("--size", type=int, help="media without --file: this many bytes of filler")
        parser.add_argument("--latitude", type=float)
        parser.add_argument("--longitude", type=float)
        parser.add_argument("--name", help="a location's name")
        parser.add_argument("--address", help="a location's address")
        parser.add_argument("--vcard", help="a contact's vCard")
        parser.add_argument("--contact-name", dest="contact_name")
        parser.add_argument("--contact-phone", dest="contact_phone")
        parser.add_argument("--question", help="a poll's question")
        parser.add_argument("--option", dest="options", action="append", help="a poll option (repeat)")
        parser.add_argument("--selectable-count", dest="selectable_count", type=int)
        parser.add_argument("--emoji", help="a reaction ('' takes it back)")
        parser.add_argument(
            "--target", metavar="WA_ID", help="reaction, edit, revoke: the message it changes"
        )
        parser.add_argument("--quote", metavar="WA_ID", help="the message this one replies to")
        parser.add_argument("--group", metavar="JID", help="send it in this group (…@g.us)")
        parser.add_argument("--push-name", dest="push_name", help="the name the contact set")
        parser.add_argument("--lid", action="store_true", default=None, help="the contact's number is hidden")

    def handle(self, *args: Any, **options: Any) -> None:
        queued = queue_from_phone(
            options["instance_id"],
            lambda instance: sandbox_phone.send_to_instance(instance, self._data(options)),
        )
        sent = queued.sent
        self.report(
            f"📨 {queued.instance.instance_id}: {sent.message['kind']} from {sent.message['from']} sent as "
            f"{sent.wa_message_id}; it arrives {queued.when}",
            {
                "instance_id": queued.instance.instance_id,
                "wa_message_id": sent.wa_message_id,
                "kind": sent.message["kind"],
                "connected": queued.connected,
            },
        )

    def _data(self, options: dict[str, Any]) -> dict[str, Any]:
        data = {field: options[name] for name, field in _FIELDS.items() if options.get(name) is not None}
        if options.get("file"):
            data.update(self._file(options["file"], data))
        return data

    def _file(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            with open(path, "rb") as file:
                content = file.read(sandbox_phone.MEDIA_MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"--file: cannot read {path}: {exc.strerror or exc}") from None
        extra: dict[str, Any] = {"media": base64.b64encode(content).decode("ascii")}
        if "mimetype" not in data:
            guessed, _ = mimetypes.guess_type(path)
            if guessed:
                extra["mimetype"] = guessed
        if "filename" not in data:
            extra["filename"] = os.path.basename(path)
        return extra
