"""Request and response shapes of the queue API (Waziper's field names)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.fields import SkipField

from api.serializers.instances import finite
from kernel.fields import StringField
from queueing import templating
from queueing.models import QueuedMessage
from queueing.validation import (
    ALL_KIND_FIELDS,
    CONTACT_NAME_LIMIT,
    EMOJI_LIMIT,
    FILENAME_LIMIT,
    KINDS,
    LOCATION_ADDRESS_LIMIT,
    LOCATION_NAME_LIMIT,
    MEDIA_ALIAS,
    MEDIA_URL_LIMIT,
    MENTIONS_LIMIT,
    POLL_OPTION_LIMIT,
    POLL_OPTIONS_RANGE,
    POLL_QUESTION_LIMIT,
    PRIORITY_RANGE,
    TARGET_KINDS,
    TEXT_LIMIT,
    TYPING_RANGE_S,
    VCARD_LIMIT,
    HostCheck,
    MessageDraft,
    bulk_host_check,
    clean_message,
)

# A bulk's top-level fields are rendered once per message; checked once, before any rendering,
# so a huge template cannot cost its size times the number of recipients.
TEMPLATE_LIMITS = {
    "caption": TEXT_LIMIT,
    "message": TEXT_LIMIT,
    "media_url": MEDIA_URL_LIMIT,
    "filename": FILENAME_LIMIT,
}
# A recipient's params: values are what a template inserts, so they are held to a size a person
# writes (a name, an order number, a link, a paragraph); names longer than a placeholder's can
# never be used.
PARAMS_LIMIT = 100
PARAM_NAME_LIMIT = 64
PARAM_VALUE_LIMIT = 4_096
TYPE_HELP = f"One of {', '.join(KINDS)}; `{MEDIA_ALIAS}` picks the kind from the file extension."


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, **kwargs)


class _NumberField(serializers.FloatField):
    """A FloatField that refuses true/false (float(True) is 1.0: a client bug, not a latitude)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


_POLL_SIZE = f"A poll needs {POLL_OPTIONS_RANGE[0]} to {POLL_OPTIONS_RANGE[1]} options."


def _string(**kwargs: Any) -> StringField:
    return StringField(required=False, allow_blank=True, **kwargs)


class _MessageFields(serializers.Serializer):
    caption = _text(help_text="Message text, the caption of a media message, or an edit's new text.")
    message = _text(help_text="Alias of `caption` (Waziper's name); `caption` wins if both are set.")
    type = serializers.CharField(required=False, allow_blank=True, help_text=TYPE_HELP)
    media_url = _text(help_text="http(s) URL of the file for media types, or of a webp file for `sticker`.")
    filename = _text(help_text="File name shown for documents.")
    priority = serializers.IntegerField(
        required=False, default=0, min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1]
    )
    # -- the kinds' own fields (queueing/validation.py KIND_FIELDS) --
    latitude = _NumberField(
        required=False, min_value=-90, max_value=90, help_text="`location`: degrees north, -90 to 90."
    )
    longitude = _NumberField(
        required=False, min_value=-180, max_value=180, help_text="`location`: degrees east, -180 to 180."
    )
    location_name = _string(max_length=LOCATION_NAME_LIMIT, help_text="`location`: the place's name.")
    location_address = _string(max_length=LOCATION_ADDRESS_LIMIT, help_text="`location`: its address.")
    contact_name = _string(max_length=CONTACT_NAME_LIMIT, help_text="`contact`: the name shown.")
    contact_phone = _string(
        max_length=16, help_text="`contact`: the number, 8 to 15 digits (or give `vcard` instead)."
    )
    vcard = _string(
        max_length=VCARD_LIMIT,
        help_text=f"`contact`: a whole vCard, BEGIN:VCARD to END:VCARD, at most {VCARD_LIMIT} bytes.",
    )
    question = _string(max_length=POLL_QUESTION_LIMIT, help_text="`poll`: the question.")
    options = serializers.ListField(
        child=StringField(max_length=POLL_OPTION_LIMIT),
        required=False,
        min_length=POLL_OPTIONS_RANGE[0],
        max_length=POLL_OPTIONS_RANGE[1],
        error_messages={
            "min_length": _POLL_SIZE,
            "max_length": _POLL_SIZE,
        },
        help_text=f"`poll`: {POLL_OPTIONS_RANGE[0]} to {POLL_OPTIONS_RANGE[1]} distinct answers.",
    )
    selectable_count = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=POLL_OPTIONS_RANGE[1],
        help_text="`poll`: how many answers one voter may choose, 1 (default) to the number of options.",
    )
    emoji = _string(
        max_length=EMOJI_LIMIT,
        trim_whitespace=False,
        help_text='`reaction`: the emoji; "" takes an earlier reaction away.',
    )
    target_message_id = _string(
        max_length=64,
        help_text="`reaction`, `edit`, `delete`: the message acted on, by this API's message_id or "
        "WhatsApp's id. Edits and deletes: only messages this instance sent, within WhatsApp's "
        "window (15 minutes to edit, 2 days to delete).",
    )
    # -- on any message that carries content --
    quoted_message_id = _string(
        max_length=64,
        help_text="Reply to this message: this API's message_id or WhatsApp's id (in a group, only "
        "one this instance sent).",
    )
    mentions = serializers.ListField(
        child=StringField(max_length=64),
        required=False,
        max_length=MENTIONS_LIMIT,
        help_text="Phone numbers or user JIDs to mention (text and captions); write `@<number>` in "
        "the text to show the mention, or leave it out to notify silently.",
    )
    typing_s = _NumberField(
        required=False,
        allow_null=True,
        min_value=TYPING_RANGE_S[0],
        max_value=TYPING_RANGE_S[1],
        help_text="Seconds of 'typing…' shown in the chat before the message (default: the "
        "instance's setting, usually none).",
    )


# Fields passed to clean_message as they are (kinds' own and the ones any message may carry).
_PASSED = (*sorted(ALL_KIND_FIELDS), "quoted_message_id", "mentions", "typing_s")


@dataclass
class _Fields:
    """One message's fields as given (a bulk item's own, else the bulk's top level), before
    rendering and validation."""

    chat_id: str
    kind: str | None
    text_field: str
    text: str
    media_url: str
    filename: str
    priority: Any
    # Which of text_field, media_url and filename came from the top level.
    from_top: frozenset[str]
    # The kinds' own fields and quoted_message_id, mentions, typing_s (item's own, else the top's).
    extra: dict[str, Any]

    @classmethod
    def of(cls, attrs: dict[str, Any], template: dict[str, Any] | None = None) -> _Fields:
        template = template or {}

        def own(name: str) -> bool:
            return attrs.get(name) not in (None, "")

        def pick(name: str) -> str:
            return attrs[name] if own(name) else (template.get(name) or "")

        text_field = "caption" if pick("caption") or not pick("message") else "message"
        return cls(
            chat_id=str(attrs.get("chat_id") or ""),
            kind=pick("type") or None,
            text_field=text_field,
            text=pick(text_field),
            media_url=pick("media_url"),
            filename=pick("filename"),
            priority=attrs.get("priority") or template.get("priority") or 0,
            from_top=frozenset(name for name in (text_field, "media_url", "filename") if not own(name)),
            extra={
                name: attrs[name] if name in attrs else template.get(name)
                for name in _PASSED
                if name in attrs or template.get(name) is not None
            },
        )

    def draft(self, host_check: HostCheck | None = None) -> MessageDraft:
        """Validated; raises a DRF ValidationError naming every bad field."""
        try:
            return clean_message(
                chat_id=self.chat_id,
                kind=self.kind,
                text=self.text,
                media_url=self.media_url,
                filename=self.filename,
                priority=self.priority,
                allow_private=settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS,
                text_field=self.text_field,
                host_check=host_check,
                **self.extra,
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None


def draft_from(attrs: dict[str, Any]) -> MessageDraft:
    """Validate one message's fields; raises a DRF ValidationError."""
    return _Fields.of(attrs).draft()


REPEATED = "Given more than once: one message per request (many recipients: POST /send_bulk)."


class SendMessageSerializer(_MessageFields):
    instance_id = serializers.CharField(required=False, help_text="Also accepted in the query string.")
    chat_id = serializers.CharField(
        help_text="Phone number (a leading +, spaces and dashes are ignored), or a JID: "
        "…@s.whatsapp.net (or …@c.us) / …@g.us."
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Like DRF's, but a malformed field does not hide the others' errors: every bad field
        of the request is named in one 400."""
        if not hasattr(data, "get"):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object or a form."]})
        attrs: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for field in self._writable_fields:
            name = str(field.field_name)
            # A form repeating a key would otherwise send to its last value only, silently
            # (list fields, such as a poll's options, are given by repeating their key).
            listed = isinstance(field, serializers.ListField)
            if not listed and hasattr(data, "getlist") and len(data.getlist(name)) > 1:
                errors[name] = [REPEATED]
                continue
            try:
                attrs[name] = field.run_validation(field.get_value(data))
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except SkipField:
                pass
        try:
            attrs["draft"] = draft_from(attrs)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            for name, messages in detail.items():
                errors.setdefault(name, messages)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class _ParamsField(serializers.DictField):
    """A recipient's `%name%` values, capped. Checked in one pass rather than through a DRF
    field per value: a 2 MiB body holds a hundred thousand of them."""

    child = serializers.CharField(allow_blank=True, max_length=PARAM_VALUE_LIMIT)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be an object of names and values.")
        if len(data) > PARAMS_LIMIT:
            raise serializers.ValidationError(
                f"At most {PARAMS_LIMIT} params per recipient (got {len(data)})."
            )
        errors: dict[str, list[str]] = {}
        numbers: dict[str, str] = {}
        for name, value in data.items():
            if len(name) > PARAM_NAME_LIMIT:
                raise serializers.ValidationError(f"A name must be at most {PARAM_NAME_LIMIT} characters.")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                errors[name] = ["Must be text or a number."]
            elif len(text := str(value)) > PARAM_VALUE_LIMIT:
                errors[name] = [f"Must be at most {PARAM_VALUE_LIMIT} characters (got {len(text)})."]
            elif not isinstance(value, str):
                numbers[name] = text
        if errors:
            raise serializers.ValidationError(errors)
        return {**data, **numbers} if numbers else data


def _params() -> _ParamsField:
    return _ParamsField(
        required=False,
        default=dict,
        help_text=f"Values for the `%name%` placeholders of this recipient (at most {PARAMS_LIMIT}, "
        f"each at most {PARAM_VALUE_LIMIT} characters).",
    )


class RecipientSerializer(serializers.Serializer):
    chat_id = serializers.CharField()
    params = _params()


# A run of text up to the next comma or new line, from its first non-blank character.
_LISTED_CHAT_ID_RE = re.compile(r"[^,\n\s][^,\n]*")


def _too_many(limit: int, got: int | None = None) -> serializers.ValidationError:
    return serializers.ValidationError(
        f"At most {limit} per request (got {got if got is not None else f'more than {limit}'})."
    )


class _BulkList(serializers.ListField):
    """At most WAZIPER_BULK_LIMIT items, counted before any item is validated."""

    def to_internal_value(self, data: Any) -> Any:
        limit = settings.WAZIPER_BULK_LIMIT
        if isinstance(data, list) and len(data) > limit:
            raise _too_many(limit, len(data))
        return super().to_internal_value(data)


class _RecipientList(_BulkList):
    """Recipients as objects, or as plain chat_id strings (form posts repeat the key); a string
    may hold several chat ids separated by commas or new lines."""

    child = RecipientSerializer()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list):
            limit = settings.WAZIPER_BULK_LIMIT
            entries: list[Any] = []
            for item in data:
                if isinstance(item, str):
                    # Split only as far as the limit: a 2 MiB "1,1,1,…" is a million recipients.
                    listed = ({"chat_id": m.group().strip()} for m in _LISTED_CHAT_ID_RE.finditer(item))
                    entries.extend(islice(listed, limit + 1 - len(entries)))
                else:
                    entries.append(item)
                if len(entries) > limit:
                    raise _too_many(limit)
            data = entries
        return super().to_internal_value(data)


class BulkMessageSerializer(_MessageFields):
    chat_id = serializers.CharField()
    params = _params()


class SendBulkSerializer(_MessageFields):
    instance_id = serializers.CharField(required=False, help_text="Also accepted in the query string.")
    recipients = _RecipientList(
        required=False,
        help_text="The same message (top-level fields) to each recipient, rendered with its params.",
    )
    messages = _BulkList(
        child=BulkMessageSerializer(),
        required=False,
        help_text="Distinct messages; unset fields use the top level.",
    )
    skip_not_on_whatsapp = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Check the phone numbers first (the instance's session, or a recent answer kept in "
        "the database) and skip those without WhatsApp, listed in `skipped`, instead of queueing "
        "messages that can never arrive. The check needs the session: while it cannot answer, "
        "nothing is queued (503).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_recipients, has_messages = bool(attrs.get("recipients")), bool(attrs.get("messages"))
        if has_recipients == has_messages:
            raise serializers.ValidationError(
                {"recipients": ["Give either recipients or messages (one list)."]}
            )
        name = "recipients" if has_recipients else "messages"
        too_long = {
            key: [f"A template must be at most {limit} characters (got {len(attrs[key])})."]
            for key, limit in TEMPLATE_LIMITS.items()
            if len(attrs.get(key) or "") > limit
        }
        if too_long:
            raise serializers.ValidationError(too_long)
        template = {
            key: attrs.get(key)
            for key in ("caption", "message", "type", "media_url", "filename", "priority", *_PASSED)
        }
        _refuse_in_bulk(attrs, name)
        renderer = templating.Renderer()
        rendered: dict[int, _Fields] = {}
        errors: dict[str, Any] = {}
        for index, item in enumerate(attrs[name]):
            fields = _Fields.of(item, template)
            try:
                rendered[index] = _render(fields, item.get("params") or {}, renderer)
            except _RenderErrors as exc:
                errors[f"{name}.{index}"] = exc.errors
            except _OverBudget as exc:
                field = exc.field if exc.field in fields.from_top else f"{name}.{index}.{exc.field}"
                raise serializers.ValidationError({field: [exc.message]}) from None
        # Every distinct media host looked up at once, under one deadline for the request.
        host_check = bulk_host_check(
            (fields.media_url for fields in rendered.values()),
            allow_private=settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS,
        )
        drafts = []
        for index, fields in rendered.items():
            try:
                drafts.append(fields.draft(host_check))
            except serializers.ValidationError as exc:
                errors[f"{name}.{index}"] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        attrs["drafts"] = drafts
        # The request, not the rendered texts (spintax differs each time), identifies a replay.
        asked = {k: v for k, v in attrs.items() if k not in ("drafts", "instance_id")}
        if not asked["skip_not_on_whatsapp"]:  # as before the option existed, so old keys replay
            del asked["skip_not_on_whatsapp"]
        canonical = json.dumps(asked, sort_keys=True, default=str)
        attrs["request_hash"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return attrs


BULK_REFUSED_KIND = "A {kind} acts on one message: send it with POST /send_message, not in a bulk."
BULK_REFUSED_REPLY = "A reply quotes one message in one chat: send it with POST /send_message."


def _refuse_in_bulk(attrs: dict[str, Any], name: str) -> None:
    """Reactions, edits, deletes and replies name one message in one chat: never a bulk."""
    errors: dict[str, Any] = {}

    def check(fields: dict[str, Any], where: str) -> None:
        kind = fields.get("type")
        if isinstance(kind, str) and kind.strip().lower() in TARGET_KINDS:
            errors[f"{where}type"] = [BULK_REFUSED_KIND.format(kind=kind.strip().lower())]
        if fields.get("quoted_message_id"):
            errors[f"{where}quoted_message_id"] = [BULK_REFUSED_REPLY]

    check(attrs, "")
    for index, item in enumerate(attrs[name]):
        check(item, f"{name}.{index}.")
    if errors:
        raise serializers.ValidationError(errors)


class _RenderErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors


class _OverBudget(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _render(fields: _Fields, params: dict[str, str], renderer: templating.Renderer) -> _Fields:
    """`fields` with the text spun and filled and media_url and filename filled, each stopped at
    its limit; a bulk item's own template is held to the limit a top-level one is."""
    errors: dict[str, list[str]] = {}
    out: dict[str, str] = {}
    for field, value in (
        (fields.text_field, fields.text),
        ("media_url", fields.media_url),
        ("filename", fields.filename),
    ):
        limit = TEMPLATE_LIMITS[field]
        if len(value) > limit:
            errors[field] = [f"Must be at most {limit} characters before rendering (got {len(value)})."]
            continue
        shared = field in fields.from_top
        try:
            if field == fields.text_field:
                out[field] = renderer.render(value, params, limit=limit, shared=shared)
            else:
                out[field] = renderer.fill(value, params, limit=limit)
        except templating.TooLong as exc:
            errors[field] = [str(exc)]
        except templating.OverBudget as exc:
            raise _OverBudget(field, str(exc)) from None
    if errors:
        raise _RenderErrors(errors)
    return replace(fields, text=out[fields.text_field], media_url=out["media_url"], filename=out["filename"])


class SendWaitSerializer(serializers.Serializer):
    wait = serializers.FloatField(
        required=False,
        default=0.0,
        min_value=0,
        max_value=60,
        validators=[finite],
        help_text="Seconds to wait for the message to be sent (0–60, default 0: answer once queued).",
    )


class WhatsAppMessageSerializer(serializers.Serializer):
    """A sent message as Waziper's server answers it (documentation only)."""

    key = inline_serializer(
        "WhatsAppMessageKey",
        fields={
            "remoteJid": serializers.CharField(),
            "fromMe": serializers.BooleanField(),
            "id": serializers.CharField(help_text="WhatsApp's message id."),
        },
    )
    messageTimestamp = serializers.CharField(help_text="Unix seconds, as a string.")
    status = serializers.CharField(help_text='"SUCCESS"')


class QueueStatusSerializer(serializers.Serializer):
    """The shape of queueing.stats.queue_status (documentation only)."""

    instance_id = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Messages per status.")
    total = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="queued + sending")
    oldest_queued_at = serializers.DateTimeField(allow_null=True)
    oldest_queued_age_s = serializers.FloatField(allow_null=True)
    paused = serializers.BooleanField()
    paused_reason = serializers.CharField(allow_null=True)
    next_send_at = serializers.DateTimeField(allow_null=True)
    last_send_at = serializers.DateTimeField(allow_null=True)
    send_delay = serializers.DictField(child=serializers.FloatField(), help_text="min_s and max_s")
    success_rate = serializers.FloatField(
        allow_null=True, help_text="(sent + delivered + read) / those + failed"
    )
    # Waziper's figures.
    instanceId = serializers.CharField()
    mainQueue = serializers.IntegerField(help_text="Messages waiting to be sent.")
    retryQueue = serializers.IntegerField(help_text="Of those, the ones waiting to be tried again.")
    processing = serializers.BooleanField(help_text="A message is being sent.")
    stats = inline_serializer(
        "WaziperQueueStats",
        fields={
            "queued": serializers.IntegerField(help_text="Messages ever queued (and kept)."),
            "success": serializers.IntegerField(),
            "failed": serializers.IntegerField(),
            "retry": serializers.IntegerField(help_text="Attempts that were retries."),
        },
    )
    successRate = serializers.IntegerField(
        min_value=0, max_value=100, help_text="Percent; 0 before anything was sent."
    )
    recommendations = serializers.ListField(child=serializers.CharField())


class MessageSerializer(serializers.ModelSerializer):
    instance_id = serializers.CharField(source="instance.instance_id", read_only=True)
    type = serializers.CharField(source="kind", read_only=True)
    caption = serializers.CharField(source="text", read_only=True)
    # A plain string in the schema: instances have a `status` enum too, and two enums of one
    # name make drf-spectacular invent hashed names for both.
    status = serializers.CharField(read_only=True, help_text=" | ".join(QueuedMessage.Status.values))
    payload = serializers.DictField(
        read_only=True,
        help_text="The kind's own fields: a location's latitude, longitude, name and address; a "
        "contact's name and vcard; a poll's question, options and selectable_count; a reaction's "
        "emoji; `target` (the message a reaction, edit or delete acts on) and `quoted` (the "
        "message a reply quotes), as found when queued.",
    )
    mentions = serializers.ListField(child=serializers.CharField(), read_only=True)
    typing_s = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Asked-for typing time; null: the instance's default."
    )

    class Meta:
        model = QueuedMessage
        fields = [
            "message_id",
            "instance_id",
            "chat_id",
            "type",
            "caption",
            "media_url",
            "filename",
            "payload",
            "quoted_message_id",
            "mentions",
            "typing_s",
            "status",
            "attempts",
            "last_error",
            "wa_message_id",
            "priority",
            "bulk_id",
            "created_at",
            "not_before",
            "claimed_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "cancelled_at",
            "uncertain_at",
        ]
        read_only_fields = fields
