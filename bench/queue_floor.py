"""The ASGI app bench/queue_throughput.py serves with daphne: the real site, plus the floor.

POST /bench/floor is the least a Django view can do for an enqueue: parse the JSON body and
insert one QueuedMessage row, with no authentication, validation or envelope. Serving it from
the same daphne process as /send_message makes the two figures comparable.
"""

from __future__ import annotations

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from queueing.models import QueuedMessage  # noqa: E402

FLOOR_INSTANCE_PK = int(os.environ.get("WAZIPER_BENCH_INSTANCE_PK", "1"))


@csrf_exempt
def floor(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    now = timezone.now()
    row = QueuedMessage.objects.create(
        instance_id=FLOOR_INSTANCE_PK,
        chat_id=body["chat_id"],
        text=body["caption"],
        created_at=now,
        not_before=now,
    )
    return JsonResponse({"message_id": str(row.message_id)}, status=202)


urlpatterns = [path("bench/floor", floor), path("", include("waziper_site.urls"))]
settings.ROOT_URLCONF = __name__

from waziper_site.asgi import application  # noqa: E402, F401
