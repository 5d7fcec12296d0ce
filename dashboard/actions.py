"""What the dashboard's buttons and the admin's actions do: one call into operations.control
each, turned into the message the person sees.

Both the instance list's bulk actions and the "Link phone" page's buttons go through here, so a
reset from either is recorded the same way (source `admin`, the person's name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from breaker.models import BreakerReset
from instances import commands
from instances.models import Instance, InstanceCommand
from operations import control

# How long the page waits for the worker to answer a pairing request (it also arrives live).
PAIR_WAIT_S = 8.0
_PHONE = re.compile(r"^\d{8,15}$")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    data: dict[str, Any] | None = None


def reset_breaker(instance: Instance, user: Any) -> Outcome:
    record = control.reset_breaker_and_wake(
        instance, source=BreakerReset.Source.ADMIN, user=user, reason="reset from the dashboard"
    )
    return Outcome(True, f"Circuit breaker of {instance.instance_id} reset (was {record.previous_state}).")


def start(instance: Instance, user: Any = None) -> Outcome:
    changed = control.start(instance)
    return Outcome(True, f"{instance.instance_id}: {'starting' if changed else 'already running'}.")


def stop(instance: Instance, user: Any = None) -> Outcome:
    changed = control.stop(instance)
    return Outcome(True, f"{instance.instance_id}: {'stopping' if changed else 'already stopped'}.")


def logout(instance: Instance, user: Any = None) -> Outcome:
    pending = control.logout(instance)
    if pending is None:
        return Outcome(True, f"{instance.instance_id}: logged out; its session store is removed.")
    return Outcome(True, f"{instance.instance_id}: logging out (the worker holding it finishes it).")


def simulate_scan(instance: Instance, user: Any = None) -> Outcome:
    try:
        control.simulate_scan(instance)
    except ValidationError as exc:
        return Outcome(False, " ".join(exc.messages))
    return Outcome(True, "The simulated phone scans the QR code shown now.")


def normalize_phone(raw: str) -> str | None:
    """Digits with the country code (`+62 812-3456-7890` → `6281234567890`), or None."""
    digits = re.sub(r"[\s\-().+]", "", raw or "")
    return digits if _PHONE.match(digits) else None


def request_pair_code(instance: Instance, raw_phone: str) -> Outcome:
    """Ask the worker for a pairing code for `raw_phone` and wait briefly for its answer."""
    phone = normalize_phone(raw_phone)
    if phone is None:
        return Outcome(
            False, "Enter the phone number with its country code, digits only (e.g. 6281234567890)."
        )
    if instance.status != Instance.Status.QR_PENDING:
        return Outcome(
            False, "Pairing by phone number works while the instance shows a QR code: start it first."
        )
    command = commands.send(instance, InstanceCommand.Kind.PAIR_PHONE, {"phone": phone})
    result = commands.wait_for(command.pk, PAIR_WAIT_S)
    if result is None:
        return Outcome(True, "Pairing code requested; it appears here as soon as the worker answers.")
    if result.get("code"):
        code = result["code"]
        return Outcome(True, f"Pairing code: {code}", {"code": code})
    return Outcome(False, str(result.get("error") or "The worker could not create a pairing code."))


ACTIONS = {
    "reset-breaker": reset_breaker,
    "start": start,
    "stop": stop,
    "logout": logout,
    "scan": simulate_scan,
}
