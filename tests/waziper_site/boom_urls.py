"""A URLconf with a view that fails, to test the 500 envelope (used via pytest.mark.urls)."""

from __future__ import annotations

from django.db import OperationalError
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class Boom(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internal detail")


class Locked(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise OperationalError("database is locked")


urlpatterns = [
    path("boom", Boom.as_view()),
    path("locked", Locked.as_view()),
    path("", include("waziper_site.urls")),
]
