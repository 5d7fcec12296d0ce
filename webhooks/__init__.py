"""Webhooks: every outbox event an integration asked for, posted to its URL, durably.

The endpoints and delivery rows are this app's; only its functions change them
(docs/architecture.md, "Webhooks").
"""
