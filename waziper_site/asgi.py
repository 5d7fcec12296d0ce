"""ASGI entry point: `daphne waziper_site.asgi:application` or `manage.py serve`."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from live.routing import websocket_urlpatterns  # noqa: E402
from waziper_site.access_log import AccessLogMiddleware, redact_daphne_access_log  # noqa: E402
from waziper_site.origin import browser_origin_validator  # noqa: E402

# One access log line per request, secrets redacted, however the server was started; daphne's
# own access log (plain `daphne …` writes one) redacted alike.
redact_daphne_access_log()
application = AccessLogMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": browser_origin_validator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
