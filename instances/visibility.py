"""Who may see or act on an instance: one rule for the API, the websocket, live.json, the
dashboard and the admin.

* Owners may view, change and delete their own instances.
* Anyone else needs Django's model permission for the action on `Instance`
  (`instances.view_instance`, `change_instance`, `delete_instance`; `change` includes `view`, as
  in the admin). Superusers have every permission. Being staff grants nothing by itself.
* Every caller states its action: reading is `view`; starting, sending, QR codes, logout and
  breaker resets are `change`; deleting is `delete`.
* Someone who may not even view an instance is told it does not exist (404 / close 4404), so
  existence never leaks; someone who may view it but not do what they asked is refused plainly
  (403), naming the permission.

Rows reached through an instance (queued messages, breaker history, events, the sandbox phone's
outbox) follow their instance: `scope()` filters any such queryset the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import auth
from django.db.models import Model, QuerySet

from instances import throttling
from instances.models import Action, Instance, is_instance_id, may_act_on_all

# Websocket close codes (4000–4999 are the application's): HTTP's status plus 4000.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_THROTTLED = 4429

_VERBS = {"view": "view", "change": "change or operate", "delete": "delete"}

M = TypeVar("M", bound=Model)


class InstanceNotFound(Exception):
    """No such instance, or one the caller may not even view (the two look the same)."""


class ActionNotAllowed(Exception):
    """The caller may view the instance but not do this to it."""

    def __init__(self, instance: Instance, action: Action) -> None:
        self.instance = instance
        self.action = action
        super().__init__(
            f"You may view instance {instance.instance_id} but not {_VERBS[action]} it: "
            f"that needs the instances.{action}_instance permission."
        )


def check(user: Any, instance: Instance, action: Action) -> None:
    """Raise InstanceNotFound or ActionNotAllowed unless `user` may `action` `instance`."""
    if instance.allows(user, action):
        return
    if action != "view" and instance.allows(user, "view"):
        raise ActionNotAllowed(instance, action)
    raise InstanceNotFound(instance.instance_id)


def find_instance(
    user: Any, instance_id: str, action: Action, queryset: QuerySet[Instance] | None = None
) -> Instance:
    """The instance `instance_id` if `user` may `action` it (see `check` for the refusals)."""
    normalized = (instance_id or "").strip().upper()
    if not is_instance_id(normalized):
        raise InstanceNotFound(normalized)
    rows = Instance.objects.all() if queryset is None else queryset
    instance = rows.filter(instance_id=normalized).first()
    if instance is None:
        raise InstanceNotFound(normalized)
    check(user, instance, action)
    return instance


def scope(
    queryset: QuerySet[M], user: Any, action: Action, *, through: str | None = "instance"
) -> QuerySet[M]:
    """`queryset` cut down to what `user` may `action`: rows of instances (`through=None`), or
    rows belonging to an instance by the field `through`. No filter at all for those allowed on
    every instance (`Instance.objects.visible_to` is this for instances)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    if may_act_on_all(user, action):
        return queryset
    return queryset.filter(**{"owner" if through is None else f"{through}__owner": user})


# --- watching live: the websocket and live.json ----------------------------------------------


@dataclass(frozen=True)
class Access:
    instance: Instance | None
    refusal: int | None  # a close code; None when allowed
    user: Any = None
    retry_after: float = 0.0  # with CLOSE_THROTTLED: seconds until the address may try again

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def authorize(user: Any, raw_token: str | None, instance_id: str, client: str | None = None) -> Access:
    """Decide whether `user` (or the token's owner, if a token is given) may watch `instance_id`
    (the `view` action).

    An explicit token wins over the session, and a bad one is refused even with a session: a
    script that passes a revoked token must find out. With `client` (the caller's address) a
    token is checked under the failed-authentication throttle, as in the API.
    """
    if raw_token is not None:
        try:
            token = throttling.authenticate_token(raw_token, client)
        except throttling.AuthenticationThrottled as exc:
            return Access(None, CLOSE_THROTTLED, retry_after=exc.wait)
        if token is None:
            return Access(None, CLOSE_UNAUTHENTICATED)
        user = token.user
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Access(None, CLOSE_UNAUTHENTICATED)
    try:
        instance = find_instance(user, instance_id, "view")
    except InstanceNotFound:
        return Access(None, CLOSE_NOT_FOUND, user)
    return Access(instance, None, user)


def recheck(session_key: str | None, raw_token: str | None, instance_id: str) -> Access:
    """`authorize` again for a socket that is already open, from the database rather than from
    what it was let in with: the token may have been revoked, the session logged out (or
    invalidated by a password change), the user deactivated, a permission withdrawn or the
    instance given away since."""
    user = None
    if raw_token is None and session_key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        user = auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    return authorize(user, raw_token, instance_id)
