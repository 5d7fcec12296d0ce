"""Request and response shapes of the webhook API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from kernel.fields import StringField
from webhooks import events, service, validation
from webhooks.models import WebhookDelivery, WebhookEndpoint


def _drf(check: Any, value: Any, **kwargs: Any) -> Any:
    try:
        return check(value, **kwargs)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class _BlankIsAnError(serializers.Serializer):
    """A form's or query string's empty optional field reads as "not given" in DRF; here an empty
    value for a field that may not be blank is a mistake the client should hear about."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "get"):
            blank = [
                name
                for name, field in self.fields.items()
                if data.get(name, None) == "" and not getattr(field, "allow_blank", False)
            ]
            if blank:
                raise serializers.ValidationError({name: ["This field may not be blank."] for name in blank})
        return super().to_internal_value(data)


class _EndpointFields(serializers.Serializer):
    url = StringField(
        max_length=validation.URL_LIMIT,
        help_text="http(s) URL posted to. Private, loopback and link-local hosts are refused unless "
        "WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS is set.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=events.EVENT_TYPES),
        required=False,
        max_length=len(events.EVENT_TYPES),
        help_text="Event types to post; empty or absent: all.",
    )
    format = serializers.ChoiceField(
        choices=WebhookEndpoint.Format.choices,
        required=False,
        help_text="`standard` (Standard Webhooks) or `waziper` (the Waziper server's body).",
    )
    description = StringField(required=False, allow_blank=True, max_length=200)

    def validate_url(self, value: str) -> str:
        return _drf(validation.validate_url, value, allow_private=settings.WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS)

    def validate_events(self, value: list[str]) -> list[str]:
        return _drf(validation.validate_events, value)


class WebhookCreateSerializer(_EndpointFields):
    instance_id = StringField(
        required=False,
        allow_null=True,
        max_length=32,
        help_text="The instance whose events are posted (you need the right to change it); "
        "absent or null: every instance you own, present and future.",
    )


class WebhookUpdateSerializer(_BlankIsAnError, _EndpointFields):
    enabled = serializers.BooleanField(
        required=False, help_text="false pauses deliveries (they wait); true resumes them."
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields

    def to_internal_value(self, data: Any) -> Any:
        # A field that cannot change is refused, not ignored: the client must not believe the
        # endpoint now posts another instance's events. (The token may ride in the body.)
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields) - {"access_token"})
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            "Cannot be changed: delete the endpoint and create another."
                            if name == "instance_id"
                            else "Unknown field."
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class BreakerSerializer(serializers.Serializer):
    state = serializers.CharField()
    consecutive_failures = serializers.IntegerField()
    open_until = serializers.DateTimeField(allow_null=True)


class WebhookSerializer(serializers.ModelSerializer):
    instance_id = serializers.SerializerMethodField()
    breaker = serializers.SerializerMethodField()
    secret_rotated_until = serializers.DateTimeField(
        source="previous_secret_until",
        read_only=True,
        allow_null=True,
        help_text="Until then the previous secret signs too (after a rotation).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "instance_id",
            "events",
            "format",
            "enabled",
            "disabled_reason",
            "breaker",
            "secret_rotated_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_instance_id(self, endpoint: WebhookEndpoint) -> str | None:
        return endpoint.instance.instance_id if endpoint.instance is not None else None

    def get_breaker(self, endpoint: WebhookEndpoint) -> dict[str, Any]:
        return BreakerSerializer(
            {
                "state": endpoint.breaker_state,
                "consecutive_failures": endpoint.consecutive_failures,
                "open_until": endpoint.open_until,
            }
        ).data


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (whsec_…). Shown now and never again: keep it with the receiver.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField(allow_null=True, read_only=True)
    webhook_id = serializers.CharField(read_only=True, help_text="The webhook-id header of every attempt.")
    status = serializers.CharField(
        read_only=True, help_text=f"One of: {', '.join(WebhookDelivery.Status.values)}."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "webhook_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "last_response_excerpt",
            "last_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryListQuerySerializer(_BlankIsAnError):
    status = StringField(
        required=False,
        help_text=f"Only deliveries in this status: {', '.join(WebhookDelivery.Status.values)}.",
    )
    before = serializers.IntegerField(
        required=False, min_value=1, help_text="Cursor: deliveries with a smaller id (the `next` of a page)."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)

    def validate_status(self, value: str) -> str:
        if value not in WebhookDelivery.Status.values:
            raise serializers.ValidationError(f"Must be one of: {', '.join(WebhookDelivery.Status.values)}.")
        return value


class ReplaySerializer(serializers.Serializer):
    from_event_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Replay outbox events from this id on."
    )
    since = serializers.DateTimeField(required=False, help_text="Replay outbox events from this time on.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=service.REPLAY_LIMIT, default=service.REPLAY_LIMIT
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("from_event_id" in attrs) == ("since" in attrs):
            raise serializers.ValidationError(
                {"from_event_id": ["Give exactly one of from_event_id and since."]}
            )
        return attrs


class ReplayResultSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="Deliveries created or made due again.")
    last_event_id = serializers.IntegerField(allow_null=True)
    more = serializers.BooleanField(help_text="The limit stopped it: replay again from last_event_id + 1.")
