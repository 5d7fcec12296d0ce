"""What the worker keeps in memory about one instance it holds."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from worker.transports.base import Session, TransportEvent


class Phase(enum.Enum):
    IDLE = "idle"  # no session; connect when due
    CONNECTING = "connecting"  # dialing; a deadline ends it
    QR = "qr"  # connected to WhatsApp, showing QR codes
    CONNECTED = "connected"
    WAITING = "waiting"  # backoff before the next attempt
    REFUSED = "refused"  # the breaker said no; next_attempt_at is its retry-after (None: forced)


@dataclass
class Held:
    pk: int
    instance_id: str
    transport: str
    status: str
    attempts: int = 0
    next_attempt_at: datetime | None = None
    phase: Phase = Phase.IDLE
    session: Session | None = None
    probe: bool = False
    connect_deadline: datetime | None = None
    pong_deadline: datetime | None = None
    # command pk waiting for a transport event, by the event kind that completes it
    waiting_commands: dict[str, int] = field(default_factory=dict)
    # Events a database error cut short (the one that failed first), and the session that
    # reported them: handled again at the start of the next tick, never dropped.
    unhandled: list[TransportEvent] = field(default_factory=list)
    unhandled_from: Session | None = None
