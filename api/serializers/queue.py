"""Request and response shapes of the queue API (Waziper's field names)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import SkipField

from queueing import templating
from queueing.models import QueuedMessage
from queueing.validation import (
    FILENAME_LIMIT,
    KINDS,
    MEDIA_ALIAS,
    MEDIA_URL_LIMIT,
    PRIORITY_RANGE,
    TEXT_LIMIT,
    MessageDraft,
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
TYPE_HELP = f"One of {', '.join(KINDS)}; `{MEDIA_ALIAS}` picks the kind from the file extension."


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, **kwargs)


class _MessageFields(serializers.Serializer):
    caption = _text(help_text="Message text, or the caption of a media message.")
    message = _text(help_text="Alias of `caption` (Waziper's name); `caption` wins if both are set.")
    type = serializers.CharField(required=False, allow_blank=True, help_text=TYPE_HELP)
    media_url = _text(help_text="http(s) URL of the file for media types.")
    filename = _text(help_text="File name shown for documents.")
    priority = serializers.IntegerField(
        required=False, default=0, min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1]
    )


def draft_from(
    attrs: dict[str, Any],
    *,
    template: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    rand: Callable[[], float] = random.random,
) -> MessageDraft:
    """Validate one message's fields (falling back to a bulk's `template`), rendering
    placeholders and spintax with `params` when given; raises a DRF ValidationError."""
    template = template or {}

    def pick(name: str) -> str:
        value = attrs.get(name)
        return value if value not in (None, "") else (template.get(name) or "")

    text_field = "caption" if pick("caption") or not pick("message") else "message"
    text = pick(text_field)
    media_url, filename = pick("media_url"), pick("filename")
    if params is not None:
        text = templating.render(text, params, rand)
        media_url, filename = templating.fill(media_url, params), templating.fill(filename, params)
    try:
        return clean_message(
            chat_id=str(attrs.get("chat_id") or ""),
            kind=pick("type") or None,
            text=text,
            media_url=media_url,
            filename=filename,
            priority=attrs.get("priority") or template.get("priority") or 0,
            allow_private=settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS,
            text_field=text_field,
        )
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None


REPEATED = "Given more than once: one message per request (many recipients: POST /send_bulk)."


class SendMessageSerializer(_MessageFields):
    instance_id = serializers.CharField(required=False, help_text="Also accepted in the query string.")
    chat_id = serializers.CharField(
        help_text="Phone number in digits (optional leading +), or a JID: …@s.whatsapp.net / …@g.us."
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Like DRF's, but a malformed field does not hide the others' errors: every bad field
        of the request is named in one 400."""
        if not hasattr(data, "get"):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object or a form."]})
        attrs: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for field in self._writable_fields:
            # A form repeating a key would otherwise send to its last value only, silently.
            if hasattr(data, "getlist") and len(data.getlist(field.field_name)) > 1:
                errors[field.field_name] = [REPEATED]
                continue
            try:
                attrs[field.field_name] = field.run_validation(field.get_value(data))
            except serializers.ValidationError as exc:
                errors[field.field_name] = exc.detail
            except SkipField:
                pass
        try:
            attrs["draft"] = draft_from(attrs)
        except serializers.ValidationError as exc:
            for name, detail in exc.detail.items():
                errors.setdefault(name, detail)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _params() -> serializers.DictField:
    return serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        default=dict,
        help_text="Values for the `%name%` placeholders of this recipient.",
    )


class RecipientSerializer(serializers.Serializer):
    chat_id = serializers.CharField()
    params = _params()


def _split_recipients(item: Any) -> list[Any]:
    """A string item may hold several chat ids separated by commas or new lines."""
    if not isinstance(item, str):
        return [item]
    return [{"chat_id": part.strip()} for part in item.replace("\n", ",").split(",") if part.strip()]


class _RecipientList(serializers.ListField):
    """Recipients as objects, or as plain chat_id strings (form posts repeat the key)."""

    child = RecipientSerializer()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list):
            data = [entry for item in data for entry in _split_recipients(item)]
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
    messages = serializers.ListField(
        child=BulkMessageSerializer(),
        required=False,
        help_text="Distinct messages; unset fields use the top level.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_recipients, has_messages = bool(attrs.get("recipients")), bool(attrs.get("messages"))
        if has_recipients == has_messages:
            raise serializers.ValidationError(
                {"recipients": ["Give either recipients or messages (one list)."]}
            )
        name = "recipients" if has_recipients else "messages"
        items = attrs[name]
        limit = settings.WAZIPER_BULK_LIMIT
        if len(items) > limit:
            raise serializers.ValidationError({name: [f"At most {limit} per request (got {len(items)})."]})
        too_long = {
            key: [f"A template must be at most {limit} characters (got {len(attrs[key])})."]
            for key, limit in TEMPLATE_LIMITS.items()
            if len(attrs.get(key) or "") > limit
        }
        if too_long:
            raise serializers.ValidationError(too_long)
        template = {
            key: attrs.get(key) for key in ("caption", "message", "type", "media_url", "filename", "priority")
        }
        drafts, errors = [], {}
        for index, item in enumerate(items):
            try:
                drafts.append(draft_from(item, template=template, params=item.get("params") or {}))
            except serializers.ValidationError as exc:
                errors[f"{name}.{index}"] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        attrs["drafts"] = drafts
        # The request, not the rendered texts (spintax differs each time), identifies a replay.
        asked = {k: v for k, v in attrs.items() if k not in ("drafts", "instance_id")}
        canonical = json.dumps(asked, sort_keys=True, default=str)
        attrs["request_hash"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return attrs


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


class MessageSerializer(serializers.ModelSerializer):
    instance_id = serializers.CharField(source="instance.instance_id", read_only=True)
    type = serializers.CharField(source="kind", read_only=True)
    caption = serializers.CharField(source="text", read_only=True)
    # A plain string in the schema: instances have a `status` enum too, and two enums of one
    # name make drf-spectacular invent hashed names for both.
    status = serializers.CharField(read_only=True, help_text=" | ".join(QueuedMessage.Status.values))

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
