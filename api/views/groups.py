"""The groups of an instance's WhatsApp account: GET/POST /instances/<id>/groups and one
group's details, participants, invite link and leaving (operations/groups.py).

Reads need `view` on the instance, changes `change`. Reads are answered from the database while
its answer is fresh (WAZIPER_GROUPS_CACHE_S; `?refresh=1` asks the session); everything else asks
the live session: 503 with the instance's state while it is not connected, 504 when it does not
answer within WAZIPER_SESSION_QUERY_TIMEOUT.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.responses import ASKS_THE_SESSION, session_errors
from api.serializers.groups import (
    CreatedGroupSerializer,
    GroupCreateSerializer,
    GroupDetailSerializer,
    GroupListSerializer,
    InviteLinkQuerySerializer,
    InviteLinkSerializer,
    LeftGroupSerializer,
    ParticipantsChangedSerializer,
    ParticipantsChangeSerializer,
    RefreshQuerySerializer,
    group_jid,
)
from kernel.envelope import success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from kernel.views import ApiView
from operations import groups

TAGS = ["groups"]
GROUP_JID_PATH = OpenApiParameter(
    "jid",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^[0-9]{5,25}(-[0-9]{5,15})?(@[gG]\.[uU][sS])?$",
    description="The group's id, e.g. 120363025246125888@g.us (the digits alone will do).",
)
_READ_ERRORS = error_responses(404, 502, 503, 504)
_CHANGE_ERRORS = error_responses(404, 501, 502, 503, 504, body=True)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _jid(value: str) -> str:
    try:
        return group_jid(value)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"jid": exc.detail}) from None


def _group_list(request: Request, instance_id: str) -> Response:
    instance = get_instance(request, instance_id, action="view")
    refresh = _query(RefreshQuerySerializer, request)["refresh"]
    with session_errors():
        answer = groups.list_groups(instance, refresh=refresh)
    data = {
        "count": len(answer.data),
        "groups": answer.data,
        "fetched_at": answer.fetched_at,
        "cached": answer.cached,
    }
    return success("Success", GroupListSerializer(data).data)


class GroupListView(ApiView):
    @extend_schema(
        operation_id="groups_list",
        tags=TAGS,
        summary="The groups the account is in, with their participants",
        description="From the database while its answer is younger than WAZIPER_GROUPS_CACHE_S "
        "(`cached: true`), else asked of the live session. " + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY, RefreshQuerySerializer],
        responses={200: envelope("GroupList", GroupListSerializer()), **_READ_ERRORS},
    )
    def get(self, request: Request, instance_id: str) -> Response:
        return _group_list(request, instance_id)

    @extend_schema(
        operation_id="groups_create",
        tags=TAGS,
        summary="Create a group",
        description="The account becomes the group's creator (superadmin); `not_added` lists "
        "the participants WhatsApp would not add, and why. " + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=GroupCreateSerializer,
        responses={
            201: envelope("GroupCreated", CreatedGroupSerializer(), "Group created"),
            **_CHANGE_ERRORS,
        },
    )
    def post(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="change")
        body = GroupCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with session_errors():
            created = groups.create_group(
                instance, body.validated_data["name"], body.validated_data["participants"]
            )
        return success(
            "Group created", CreatedGroupSerializer(created).data, http_status=status.HTTP_201_CREATED
        )


class GroupDetailView(ApiView):
    @extend_schema(
        operation_id="groups_detail",
        tags=TAGS,
        summary="One group, with its participants",
        description="From the database while fresh, else asked of the live session; 404 with "
        "`reason: not_found` for a group the account is not in. " + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, GROUP_JID_PATH, ACCESS_TOKEN_QUERY, RefreshQuerySerializer],
        responses={200: envelope("GroupDetail", GroupDetailSerializer()), **_READ_ERRORS},
    )
    def get(self, request: Request, instance_id: str, jid: str) -> Response:
        instance = get_instance(request, instance_id, action="view")
        refresh = _query(RefreshQuerySerializer, request)["refresh"]
        with session_errors():
            answer = groups.get_group(instance, _jid(jid), refresh=refresh)
        data = {"group": answer.data, "fetched_at": answer.fetched_at, "cached": answer.cached}
        return success("Success", GroupDetailSerializer(data).data)


class GroupParticipantsView(ApiView):
    @extend_schema(
        operation_id="groups_participants",
        tags=TAGS,
        summary="Add, remove, promote or demote participants",
        description="Answers per participant (`ok`, WhatsApp's `code` and a `reason`): 200 even "
        "when some were refused. 403 with `reason: forbidden` when the account is not an admin "
        "of the group. " + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, GROUP_JID_PATH, ACCESS_TOKEN_QUERY],
        request=ParticipantsChangeSerializer,
        responses={200: envelope("ParticipantsChanged", ParticipantsChangedSerializer()), **_CHANGE_ERRORS},
    )
    def post(self, request: Request, instance_id: str, jid: str) -> Response:
        instance = get_instance(request, instance_id, action="change")
        group = _jid(jid)
        body = ParticipantsChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        action = body.validated_data["action"]
        with session_errors():
            outcomes = groups.change_participants(instance, group, action, body.validated_data["phones"])
        done = sum(1 for o in outcomes if o["ok"])
        data = {"group": group, "action": action, "participants": outcomes}
        return success(f"{done} of {len(outcomes)} done", ParticipantsChangedSerializer(data).data)


class GroupInviteLinkView(ApiView):
    @extend_schema(
        operation_id="groups_invite_link",
        tags=TAGS,
        summary="The group's invite link (`?reset=1` revokes it and makes a new one)",
        description="Reading needs view on the instance, a reset needs change. WhatsApp gives "
        "links to admins only (403 with `reason: forbidden` otherwise). " + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, GROUP_JID_PATH, ACCESS_TOKEN_QUERY, InviteLinkQuerySerializer],
        responses={200: envelope("InviteLink", InviteLinkSerializer()), **_CHANGE_ERRORS},
    )
    def get(self, request: Request, instance_id: str, jid: str) -> Response:
        reset = _query(InviteLinkQuerySerializer, request)["reset"]
        instance = get_instance(request, instance_id, action="change" if reset else "view")
        group = _jid(jid)
        with session_errors():
            link = groups.invite_link(instance, group, reset=reset)
        return success("Success", InviteLinkSerializer({"group": group, "link": link, "reset": reset}).data)


class GroupLeaveView(ApiView):
    @extend_schema(
        operation_id="groups_leave",
        tags=TAGS,
        summary="Leave the group",
        request=None,
        parameters=[INSTANCE_ID_PATH, GROUP_JID_PATH, ACCESS_TOKEN_QUERY],
        responses={200: envelope("LeftGroup", LeftGroupSerializer(), "Left the group"), **_CHANGE_ERRORS},
    )
    def post(self, request: Request, instance_id: str, jid: str) -> Response:
        instance = get_instance(request, instance_id, action="change")
        group = _jid(jid)
        with session_errors():
            groups.leave_group(instance, group)
        return success("Left the group", LeftGroupSerializer({"group": group, "left": True}).data)
