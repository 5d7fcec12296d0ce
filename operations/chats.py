"""What an instance's WhatsApp account does in a chat besides sending: marking messages read.

Asked of the live session (operations/session_queries.py), so it raises the same
SessionUnavailable, SessionTimeout and SessionRefused as any question; the API turns them into
503, 504 and the refusal's status (api/responses.py session_errors).
"""

from __future__ import annotations

from instances.models import Instance
from operations.session_queries import ask

# A read receipt lists message ids; WhatsApp's own clients send a few hundred at most at once.
MARK_READ_LIMIT = 100


def mark_read(instance: Instance, chat_id: str, message_ids: list[str], *, sender: str | None = None) -> int:
    """Send read receipts for `message_ids` (WhatsApp's ids) of the chat `chat_id` (a JID, or
    phone digits). In a group, `sender` is the participant who wrote them (required by
    WhatsApp). Returns how many were marked."""
    args: dict[str, object] = {"chat": chat_id, "message_ids": list(message_ids)}
    if sender:
        args["sender"] = sender
    answer = ask(instance, "mark_read", args)
    return int(answer.get("read", len(message_ids)))
