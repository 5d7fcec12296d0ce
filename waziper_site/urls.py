"""URL map. Waziper's API paths sit at the root without trailing slashes, as its clients call them."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from waziper_site.health import HealthView
from waziper_site.metrics_view import MetricsView

handler400 = "kernel.envelope.handler400"
handler403 = "kernel.envelope.handler403"
handler404 = "kernel.envelope.handler404"
handler500 = "kernel.envelope.handler500"

admin.site.site_header = "waziper"
admin.site.site_title = "waziper admin"
admin.site.index_title = "Gateway administration"

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/dashboard/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
]
