"""/instances and /instances/<id>: create, list, show, delete."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.serializers.instances import InstanceCreateSerializer, InstanceSerializer
from instances import service as instances_service
from instances.models import Instance
from kernel.envelope import ApiError, success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, ErrorSerializer, envelope, error_responses
from kernel.views import ApiView


class InstanceListView(ApiView):
    @extend_schema(
        operation_id="instances_list",
        tags=["instances"],
        summary="List your instances (all of them with the view permission)",
        parameters=[ACCESS_TOKEN_QUERY],
        responses={200: envelope("InstanceList", InstanceSerializer(many=True)), **error_responses()},
    )
    def get(self, request: Request) -> Response:
        instances = Instance.objects.visible_to(request.user, action="view").select_related("owner")
        return success("Success", InstanceSerializer(instances, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="instances_create",
        tags=["instances"],
        summary="Create an instance (stopped until you ask for its QR code or state)",
        description="With `instance_id`, the instance gets that id: bring the ids a Waziper "
        "deployment already uses (13 hexadecimal characters).",
        parameters=[ACCESS_TOKEN_QUERY],
        request=InstanceCreateSerializer,
        responses={
            201: envelope("InstanceCreated", InstanceSerializer(), message="Instance created"),
            **error_responses(body=True),
            403: OpenApiResponse(
                ErrorSerializer, description="You have WAZIPER_MAX_INSTANCES_PER_OWNER instances already."
            ),
            409: OpenApiResponse(ErrorSerializer, description="The chosen instance_id is in use."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = InstanceCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            instance = instances_service.create_instance(request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        except instances_service.InstanceLimitReached as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        except instances_service.InstanceIdTaken as exc:
            raise ApiError(
                str(exc), http_status=status.HTTP_409_CONFLICT, extra={"errors": {"instance_id": [str(exc)]}}
            ) from None
        return success(
            "Instance created",
            InstanceSerializer(instance, context={"request": request}).data,
            http_status=status.HTTP_201_CREATED,
        )


class InstanceDetailView(ApiView):
    @extend_schema(
        operation_id="instances_show",
        tags=["instances"],
        summary="Show one instance",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={200: envelope("InstanceDetail", InstanceSerializer()), **error_responses(404)},
    )
    def get(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="view")
        return success("Success", InstanceSerializer(instance, context={"request": request}).data)

    @extend_schema(
        operation_id="instances_delete",
        tags=["instances"],
        summary="Delete an instance: stops its session and removes its session store",
        description="Queued messages, events and breaker history of the instance go with it.",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=None,
        responses={
            200: envelope("InstanceDeleted", message="Instance deleted", instance_id=serializers.CharField()),
            **error_responses(404, body=True),
        },
    )
    def delete(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="delete")
        instances_service.delete_instance(instance)
        return success("Instance deleted", instance_id=instance.instance_id)
