"""Dashboard pages (staff, inside the admin) and the JSON snapshot the live page polls as a fallback."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from dashboard import actions, figures
from dashboard.charts import stacked_bars
from instances import visibility
from instances.models import Action, Instance, WorkerProcess, may_act_on_all
from kernel import clientaddr
from operations import frames
from operations.health import health_payload
from webhooks import stats as webhook_stats

CHART_HOURS = (1, 6, 24, 72)
BUTTONS = (("start", "Start", ""), ("stop", "Stop", ""), ("logout", "Log out", "wz-danger"))


def _require(request: HttpRequest, action: Action) -> None:
    """The admin lets any staff member in; what they may see or do follows their model
    permissions. Owning an instance gives no rights here: the pages are operators' tools, and
    tenants reach their own instances through the API, the websocket and live.json."""
    if not may_act_on_all(request.user, action):
        raise PermissionDenied


def _instance(request: HttpRequest, instance_id: str, action: Action) -> Instance:
    """The page's instance, under the permission check and then the visibility rule."""
    _require(request, action)
    try:
        return visibility.find_instance(request.user, instance_id, action)
    except visibility.InstanceNotFound:
        raise Http404("No such instance") from None
    except visibility.ActionNotAllowed:
        raise PermissionDenied from None


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    """The admin's own context, so the pages get its header, sidebar and styles."""
    return {**admin.site.each_context(request), "title": title, **extra}


def link_phone(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = _instance(request, instance_id, "view")
    snapshot = frames.snapshot(instance, frames.latest_event_id())
    events = list(instance.events.order_by("-id")[:15])
    return render(
        request,
        "dashboard/link_phone.html",
        _context(
            request,
            f"Link phone · {instance}",
            instance=instance,
            snapshot=snapshot,
            recent=[frames.frame_of(event) for event in reversed(events)],
            ws_path=f"/ws/instances/{instance.instance_id}/",
            json_url=reverse("dashboard:live-json", args=[instance.instance_id]),
            opts=Instance._meta,
            buttons=BUTTONS,
        ),
    )


def _back(request: HttpRequest, instance: Instance) -> HttpResponse:
    """To the page the button was pressed on (`next`, if it is one of ours), else Link phone."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("dashboard:link-phone", instance.instance_id)


def _reply(request: HttpRequest, instance: Instance, outcome: actions.Outcome) -> HttpResponse:
    if _wants_json(request):
        body = {"status": "success" if outcome.ok else "error", "message": outcome.message}
        return JsonResponse({**body, **(outcome.data or {})}, status=200 if outcome.ok else 400)
    messages.add_message(request, messages.SUCCESS if outcome.ok else messages.ERROR, outcome.message)
    return _back(request, instance)


@require_POST
def instance_action(request: HttpRequest, instance_id: str, action: str) -> HttpResponse:
    operation = actions.ACTIONS.get(action)
    if operation is None:
        raise Http404("No such action")
    instance = _instance(request, instance_id, "change")
    return _reply(request, instance, operation(instance, request.user))


@require_POST
def pair_phone(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = _instance(request, instance_id, "change")
    return _reply(request, instance, actions.request_pair_code(instance, request.POST.get("phone", "")))


@require_GET
def live_json(request: HttpRequest, instance_id: str) -> JsonResponse:
    """What the websocket would have sent: the snapshot, plus the events after `since`.

    The page polls this when websockets do not get through (a proxy without upgrade support).
    Same people as the websocket (the owner, or the view permission), by session or
    `access_token`, under the same failed-authentication throttle.
    """
    decision = visibility.authorize(
        request.user, request.GET.get("access_token"), instance_id, clientaddr.from_request(request)
    )
    if decision.refusal == visibility.CLOSE_THROTTLED:
        wait = math.ceil(decision.retry_after)
        text = f"Too many failed authentications from your address; try again in {wait} s."
        throttled = JsonResponse({"status": "error", "message": text, "retry_after": wait}, status=429)
        throttled["Retry-After"] = str(wait)
        return throttled
    if not decision.allowed:
        status = 401 if decision.refusal == visibility.CLOSE_UNAUTHENTICATED else 404
        text = "Authentication required." if status == 401 else "Instance not found."
        return JsonResponse({"status": "error", "message": text}, status=status)
    assert decision.instance is not None
    upto = frames.latest_event_id()
    snapshot = frames.snapshot(decision.instance, upto)
    since = frames.parse_since(request.GET.get("since"))
    events = frames.replay(decision.instance, since, upto) if since is not None else []
    response = JsonResponse({"snapshot": snapshot, "events": events})
    response["Cache-Control"] = "no-store"
    return response


def health(request: HttpRequest) -> HttpResponse:
    _require(request, "view")
    now = timezone.now()
    try:
        hours = int(request.GET.get("hours", "6"))
    except ValueError:
        hours = 6
    hours = hours if hours in CHART_HOURS else 6
    buckets = figures.Buckets(end=now, hours=hours)
    payload = health_payload()
    charts = [
        stacked_bars(
            buckets.labels(),
            figures.failures_per_instance(buckets),
            title=f"Failures per instance, last {hours} h",
            empty_text="no failures in this period",
        ),
        stacked_bars(
            buckets.labels(),
            figures.queue_throughput(buckets),
            title=f"Queue throughput (messages sent / failed), last {hours} h",
            empty_text="no messages sent in this period",
        ),
    ]
    workers = WorkerProcess.objects.order_by("stopped_at", "-heartbeat_at")[:10]
    return render(
        request,
        "dashboard/health.html",
        _context(
            request,
            "Gateway health",
            health=payload["data"],
            timestamp=parse_datetime(payload["timestamp"]),
            heartbeat=parse_datetime(payload["data"]["worker"]["last_heartbeat"] or ""),
            charts=charts,
            hours=hours,
            hour_choices=CHART_HOURS,
            workers=workers,
            webhook_backlogs=webhook_stats.backlogs(now)[:20],
            webhook_heartbeat=parse_datetime(
                payload["data"]["webhooks"]["deliverer"]["last_heartbeat"] or ""
            ),
        ),
    )
