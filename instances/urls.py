from __future__ import annotations

from django.urls import path

from instances.api import views

urlpatterns = [
    path("instances", views.InstanceListView.as_view(), name="instance-list"),
    path("instances/<str:instance_id>", views.InstanceDetailView.as_view(), name="instance-detail"),
]
