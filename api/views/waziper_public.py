"""Waziper's public API for integrators, under /api/: the routes, parameters, checks and messages
of its PHP app's `Whatsapp_api` controller, so that an integration written against it can point
at this server instead.

As there: parameters come from the query string, a form or a JSON body (a body's value wins);
the checks run in the controller's order (token, instance id, the instance, linked, …) and each
answers in its words; and every answer is HTTP 200, a refusal included: its integrators read
`status` and never the HTTP code. (An internal error stays a 500.) `type` is read and ignored,
as there: text or media follows from `media_url`.

Each view is a thin adapter over the services the rest of the API uses (instances.service,
operations.control, queueing.enqueue, the answers in api/waziper.py); the server's answers it
passes through are the ones Waziper's controller passes through from its server.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api import waziper
from api.responses import idempotency_key, queued
from api.serializers.instances import InstanceStateSerializer, QrQuerySerializer
from api.serializers.queue import SendWaitSerializer, WhatsAppMessageSerializer
from api.serializers.waziper import (
    ApiInstanceParams,
    ApiQrParams,
    ApiSendGroupParams,
    ApiSendParams,
    ApiTokenParams,
    ApiWebhookParams,
)
from instances import service as instances_service
from instances import visibility
from instances.auth import OptionalAccessTokenAuthentication, token_from_request
from instances.models import Action, Instance
from kernel.envelope import ApiError, success
from kernel.schema import TOKEN_OR_NONE, ErrorSerializer, SuccessStatusField, envelope
from kernel.views import ApiView
from operations import groups as operations_groups
from operations.session_queries import SessionRefused, SessionTimeout, SessionUnavailable
from queueing import enqueue
from queueing.validation import GROUP_JID_RE, clean_message, normalize_chat_id
from webhooks import service as webhooks_service
from webhooks.validation import validate_url

# The controller's words.
TOKEN_REQUIRED = "Access token is required"
TOKEN_UNKNOWN = "Access token does not exist"
ID_REQUIRED = "Instance ID is required"
ID_INVALIDATED = "Instance ID Invalidated"
NOT_ACTIVATED = "This instance ID has not been activated yet"
NO_ACCOUNT = "Account does not exist"
RELOGIN_REQUIRED = "This WhatsApp account relogin required"
ID_USED = "Instance ID has been used"
NO_SERVER = "Cannot connect to WhatsApp server. Please try again later"
PHONE_REQUIRED = "Phone number is required"
PHONE_RULE = "Must be a phone number of 8 to 15 digits (a leading +, spaces and dashes are ignored)."
MEDIA_OR_MESSAGE = "Please enter media url or message"
ID_GENERATED = "Instance ID generated successfully"
RESET_DONE = "Reset Instance ID was successful"
ENABLE_REQUIRED = "Enable field is required"
URL_REQUIRED = "Webhook URL is required"
URL_INVALID = "Webhook URL is not a valid URL"
WEBHOOK_SAVED = "Webhook URI Saved"


def _refuse(message: str, http_status: int = status.HTTP_400_BAD_REQUEST, **extra: Any) -> NoReturn:
    # The HTTP code names the refusal in the log and in tests; the client gets 200 (see the view).
    raise ApiError(message, http_status=http_status, extra=extra)


def param(request: Request, name: str) -> str:
    """`name` from the body (a form or JSON) if it is there, else from the query string; "" if
    it is in neither. A JSON number is taken as its text."""
    data: Any = request.data
    value = data.get(name) if hasattr(data, "get") and name in data else request.query_params.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        _refuse(f"Invalid request. {name}: Must be text.", errors={name: ["Must be text."]})
    return str(value)


def _activated(instance: Instance) -> bool:
    """Waziper's "activated": a phone was linked to it and it was not reset since. A logged-out
    phone stays activated (it needs a relogin); an instance never linked is not."""
    return bool(instance.jid) or instance.status == Instance.Status.LOGGED_OUT


def _answer(name: str, success_serializer: Any) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name=f"Api{name}Answer",
        serializers=[success_serializer, ErrorSerializer],
        resource_type_field_name=None,
    )


def _documented(
    name: str, summary: str, description: str, params: type[serializers.Serializer], answer: Any
) -> Any:
    """The same operation for GET and POST (Waziper's routes take GET; its documentation says
    POST; both work), parameters in the query or (POST) the body."""
    common: dict[str, Any] = {
        "tags": ["waziper public API"],
        "summary": summary,
        "description": description + " Every answer is HTTP 200; `status` says whether it worked.",
        "responses": {200: _answer(name, answer)},
        "auth": TOKEN_OR_NONE,
    }
    slug = name[0].lower() + "".join(f"_{c.lower()}" if c.isupper() else c for c in name[1:])
    return extend_schema_view(
        get=extend_schema(operation_id=f"api_{slug}", parameters=[params], **common),
        post=extend_schema(operation_id=f"api_{slug}_post", parameters=[params], request=params, **common),
    )


class WaziperApiView(ApiView):
    authentication_classes = [OptionalAccessTokenAuthentication]
    permission_classes = [AllowAny]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code != status.HTTP_500_INTERNAL_SERVER_ERROR:
            response.status_code = status.HTTP_200_OK
        return response

    def get(self, request: Request) -> Response:
        return self.answer(request)

    def post(self, request: Request) -> Response:
        return self.answer(request)

    def answer(self, request: Request) -> Response:
        raise NotImplementedError

    # --- the controller's checks, in its order ---------------------------------------------------
    def owner(self, request: Request) -> Any:
        if request.user.is_authenticated:
            return request.user
        try:
            given = token_from_request(request)
        except exceptions.AuthenticationFailed:
            given = "malformed"
        if not given:
            _refuse(TOKEN_REQUIRED, status.HTTP_401_UNAUTHORIZED)
        _refuse(TOKEN_UNKNOWN, status.HTTP_401_UNAUTHORIZED)

    def instance(self, request: Request, action: Action, *, missing: str = ID_INVALIDATED) -> Instance:
        user = self.owner(request)
        instance_id = param(request, "instance_id").strip()
        if not instance_id:
            _refuse(ID_REQUIRED)
        try:
            return visibility.find_instance(
                user, instance_id, action, Instance.objects.select_related("owner")
            )
        except visibility.InstanceNotFound:
            _refuse(missing, status.HTTP_404_NOT_FOUND)
        except visibility.ActionNotAllowed as exc:
            _refuse(str(exc), status.HTTP_403_FORBIDDEN)

    def activated_instance(self, request: Request, action: Action, *, relogin: bool = False) -> Instance:
        instance = self.instance(request, action)
        if not _activated(instance):
            _refuse(NOT_ACTIVATED, status.HTTP_409_CONFLICT)
        if relogin and instance.status == Instance.Status.LOGGED_OUT:
            _refuse(RELOGIN_REQUIRED, status.HTTP_409_CONFLICT)
        return instance


_GENERATED = inline_serializer(
    "ApiInstanceGenerated",
    fields={
        "status": SuccessStatusField(),
        "message": serializers.CharField(help_text=f'"{ID_GENERATED}"'),
        "instance_id": serializers.CharField(),
    },
)


@_documented(
    "CreateInstance",
    "An instance id to link a phone to",
    "Your oldest instance with no phone linked (so asking again before linking gives the same "
    "id), else a new one, within your instance limit.",
    ApiTokenParams,
    _GENERATED,
)
class CreateInstanceView(WaziperApiView):
    def answer(self, request: Request) -> Response:
        owner = self.owner(request)
        try:
            instance, _ = instances_service.unlinked_or_new_instance(owner)
        except instances_service.InstanceLimitReached as exc:
            _refuse(f"You can only add up to {exc.limit} profiles", status.HTTP_403_FORBIDDEN)
        return Response({"status": "success", "message": ID_GENERATED, "instance_id": instance.instance_id})


_QR = envelope(
    "ApiQrCode",
    base64=serializers.CharField(help_text="data:image/png;base64,…"),
    qr=serializers.CharField(),
    expires_at=serializers.DateTimeField(allow_null=True),
)


@_documented(
    "GetQrcode",
    "The QR code to link a phone",
    "The server's GET /get_qrcode answer; an instance with a phone linked answers Instance ID has been used.",
    ApiQrParams,
    _QR,
)
class QrCodeView(WaziperApiView):
    def answer(self, request: Request) -> Response:
        instance = self.instance(request, "change")
        if instance.jid:
            _refuse(ID_USED, status.HTTP_409_CONFLICT)
        query = QrQuerySerializer(data={"wait": param(request, "wait")} if param(request, "wait") else {})
        query.is_valid(raise_exception=True)
        return waziper.qr_answer(request, instance, query.validated_data["wait"])


_WEBHOOK_SAVED = envelope(
    "ApiWebhookSaved",
    inline_serializer(
        "ApiWebhook",
        fields={
            "webhook_id": serializers.IntegerField(),
            "enabled": serializers.BooleanField(),
            "secret": serializers.CharField(required=False, help_text="Only when the webhook is new"),
        },
    ),
    WEBHOOK_SAVED,
)


@_documented(
    "SetWebhook",
    "Where the instance's events are posted, in Waziper's format",
    "Makes or changes the instance's one `waziper`-format webhook (see /webhooks): enabled only "
    "when `enable` is exactly `true`, as Waziper saves it. Its signing secret is in `data.secret` "
    "when the webhook is new.",
    ApiWebhookParams,
    _WEBHOOK_SAVED,
)
class SetWebhookView(WaziperApiView):
    def answer(self, request: Request) -> Response:
        # The controller checks the fields before it looks the instance up.
        self.owner(request)
        if not param(request, "instance_id").strip():
            _refuse(ID_REQUIRED)
        enable, url = param(request, "enable"), param(request, "webhook_url").strip()
        if not enable:
            _refuse(ENABLE_REQUIRED, errors={"enable": ["This field is required."]})
        if not url:
            _refuse(URL_REQUIRED, errors={"webhook_url": ["This field is required."]})
        try:
            url = validate_url(url, allow_private=settings.WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS)
        except DjangoValidationError as exc:
            _refuse(URL_INVALID, errors={"webhook_url": exc.messages})
        instance = self.activated_instance(request, "change")
        endpoint, secret = webhooks_service.set_instance_webhook(
            request.user, instance, url=url, enabled=enable == "true"
        )
        data: dict[str, Any] = {"webhook_id": endpoint.pk, "enabled": endpoint.enabled}
        if secret is not None:
            data["secret"] = secret
        return success(WEBHOOK_SAVED, data)


_LOGGED_OUT = envelope("ApiLoggedOut", instance_id=serializers.CharField())


@_documented(
    "Reboot",
    "Log the phone out (Waziper's reboot does exactly that)",
    "The server's GET /logout answer: a new QR code is needed afterwards.",
    ApiInstanceParams,
    _LOGGED_OUT,
)
class RebootView(WaziperApiView):
    def answer(self, request: Request) -> Response:
        instance = self.activated_instance(request, "change")
        return waziper.logout_answer(instance, done_message="Success")


@_documented(
    "ResetInstance",
    "Log the phone out and delete the instance",
    "Its queue, history and settings go with it; create_instance gives a new id afterwards.",
    ApiInstanceParams,
    envelope("ApiReset", message=RESET_DONE),
)
class ResetInstanceView(WaziperApiView):
    def answer(self, request: Request) -> Response:
        instance = self.instance(request, "delete", missing=NO_ACCOUNT)
        if not _activated(instance):
            _refuse(NO_ACCOUNT, status.HTTP_404_NOT_FOUND)
        logged_out = waziper.logout_answer(instance, done_message="Success")
        # Logged out now, or before: either way the phone is unlinked. A worker that did not
        # confirm in time (202) or failed (502) leaves the instance as it is.
        if logged_out.status_code not in (status.HTTP_200_OK, status.HTTP_409_CONFLICT):
            _refuse(NO_SERVER, status.HTTP_503_SERVICE_UNAVAILABLE)
        instances_service.delete_instance(instance)
        return success(RESET_DONE)


@_documented(
    "Reconnect",
    "Start the session and say whether a phone is linked",
    "The server's GET /instance answer.",
    ApiInstanceParams,
    envelope("ApiInstanceState", InstanceStateSerializer()),
)
class ReconnectView(WaziperApiView):
    def answer(self, request: Request) -> Response:
        return waziper.instance_answer(request, self.activated_instance(request, "change"))


_GROUPS = envelope(
    "ApiGroups",
    inline_serializer(
        "ApiGroup",
        fields={
            "id": serializers.CharField(),
            "name": serializers.CharField(),
            "size": serializers.IntegerField(),
        },
        many=True,
    ),
)


@_documented(
    "GetGroups",
    "The groups the account is in: id, name and size",
    "From the database while fresh, else asked of the live session; an empty list whenever the "
    "session cannot answer, as Waziper's controller gives.",
    ApiInstanceParams,
    _GROUPS,
)
class GroupsView(WaziperApiView):
    def answer(self, request: Request) -> Response:
        instance = self.activated_instance(request, "view", relogin=True)
        try:
            listed = operations_groups.list_groups(instance).data
        except (SessionUnavailable, SessionTimeout, SessionRefused):
            listed = []
        return success("Success", [{"id": g["id"], "name": g["name"], "size": g["size"]} for g in listed])


_SENT_OR_QUEUED = PolymorphicProxySerializer(
    component_name="ApiSentOrQueued",
    serializers=[
        inline_serializer(
            "ApiMessageSent",
            fields={
                "status": SuccessStatusField(),
                "message": WhatsAppMessageSerializer(),
                "data": inline_serializer(
                    "ApiSentData",
                    fields={"message_id": serializers.UUIDField(), "status": serializers.CharField()},
                ),
            },
        ),
        envelope(
            "ApiMessageQueued",
            inline_serializer(
                "ApiQueuedData",
                fields={"message_id": serializers.UUIDField(), "status": serializers.CharField()},
            ),
            waziper.MESSAGE_QUEUED,
        ),
    ],
    resource_type_field_name=None,
)


class _SendView(WaziperApiView):
    def recipient(self, request: Request) -> str:
        raise NotImplementedError

    def answer(self, request: Request) -> Response:
        instance = self.activated_instance(request, "change", relogin=True)
        chat_id = self.recipient(request)
        text, media_url = param(request, "message"), param(request, "media_url").strip()
        if not text and not media_url:
            _refuse(MEDIA_OR_MESSAGE)
        wait = SendWaitSerializer(data={"wait": param(request, "wait")} if param(request, "wait") else {})
        wait.is_valid(raise_exception=True)
        key = idempotency_key(request)
        try:
            draft = clean_message(
                chat_id=chat_id,
                text=text,
                media_url=media_url,
                filename=param(request, "filename"),
                allow_private=settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS,
                text_field="message",
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        result = queued(request, lambda: enqueue.enqueue(instance, draft, idempotency_key=key))
        if isinstance(result, Response):
            return result
        return waziper.send_answer(result, wait.validated_data["wait"])


@_documented(
    "Send",
    "Send a message to a phone number",
    "Queued as POST /send_message queues it; with `wait`, answered as Waziper's server answers "
    "once it is sent (`message.key.id`).",
    ApiSendParams,
    _SENT_OR_QUEUED,
)
class SendView(_SendView):
    def recipient(self, request: Request) -> str:
        try:
            phone = normalize_chat_id(param(request, "number"))
        except DjangoValidationError:
            phone = ""
        if not phone or "@" in phone:
            _refuse(PHONE_REQUIRED, errors={"number": [PHONE_RULE]})
        return phone


@_documented(
    "SendGroup",
    "Send a message to a group",
    "As /api/send, to the group `group_id`.",
    ApiSendGroupParams,
    _SENT_OR_QUEUED,
)
class SendGroupView(_SendView):
    def recipient(self, request: Request) -> str:
        group = param(request, "group_id").strip()
        if not GROUP_JID_RE.match(group):
            reason = "Must be a group's JID, such as 84987694574-1618740914@g.us."
            _refuse(f"Invalid request. group_id: {reason}", errors={"group_id": [reason]})
        return group
