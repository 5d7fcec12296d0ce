from __future__ import annotations

from django.urls import path

from instances.api.views import instances, sandbox, session

urlpatterns = [
    path("instance", session.InstanceStateView.as_view(), name="instance-state"),
    path("get_qrcode", session.QrCodeView.as_view(), name="get-qrcode"),
    path("logout", session.LogoutView.as_view(), name="logout"),
    path("instances", instances.InstanceListView.as_view(), name="instance-list"),
    path("instances/<str:instance_id>", instances.InstanceDetailView.as_view(), name="instance-detail"),
    path("sandbox/<str:instance_id>/scan", sandbox.SandboxScanView.as_view(), name="sandbox-scan"),
    path("sandbox/<str:instance_id>/outbox", sandbox.SandboxOutboxView.as_view(), name="sandbox-outbox"),
]
