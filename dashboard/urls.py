"""Mounted at /admin/dashboard/ (waziper_site/urls.py). Pages are staff-only through the admin's
own login; the JSON snapshot does its own checks, as the websocket does."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from dashboard import views

app_name = "dashboard"
staff = admin.site.admin_view

urlpatterns = [
    path("", staff(views.health), name="health"),
    path("instances/<str:instance_id>/", staff(views.link_phone), name="link-phone"),
    path("instances/<str:instance_id>/pair/", staff(views.pair_phone), name="pair"),
    path("instances/<str:instance_id>/live.json", views.live_json, name="live-json"),
    path("instances/<str:instance_id>/<slug:action>/", staff(views.instance_action), name="action"),
]
