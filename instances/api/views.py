"""Instance endpoints: thin views over instances.service (DESIGN "HTTP API")."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from instances import service
from instances.api.lookup import get_instance
from instances.api.serializers import InstanceCreateSerializer, InstanceSerializer
from instances.models import Instance
from waziper_site.api import success


class InstanceListView(APIView):
    @extend_schema(summary="List your instances", responses=InstanceSerializer(many=True))
    def get(self, request: Request) -> Response:
        instances = Instance.objects.visible_to(request.user).select_related("owner")
        return success("Success", InstanceSerializer(instances, many=True).data)

    @extend_schema(
        summary="Create an instance", request=InstanceCreateSerializer, responses={201: InstanceSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = InstanceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            instance = service.create_instance(request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        return success(
            "Instance created", InstanceSerializer(instance).data, http_status=status.HTTP_201_CREATED
        )


class InstanceDetailView(APIView):
    @extend_schema(summary="Show one instance", responses=InstanceSerializer)
    def get(self, request: Request, instance_id: str) -> Response:
        return success("Success", InstanceSerializer(get_instance(request, instance_id)).data)
