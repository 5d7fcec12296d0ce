"""The REST API's routes. Waziper's paths sit at the root without trailing slashes, as its
clients call them."""

from __future__ import annotations

from django.urls import path

from api.views import (
    breaker,
    chats,
    contacts,
    groups,
    instances,
    messages,
    profile,
    queue,
    sandbox,
    session,
    waziper_public,
    waziper_server,
    webhooks,
)

urlpatterns = [
    path("", waziper_server.WelcomeView.as_view(), name="welcome"),
    path(
        "generate-instance-id", waziper_server.GenerateInstanceIdView.as_view(), name="generate-instance-id"
    ),
    # instances and their WhatsApp session
    path("instance", session.InstanceStateView.as_view(), name="instance-state"),
    path("get_qrcode", session.QrCodeView.as_view(), name="get-qrcode"),
    path("logout", session.LogoutView.as_view(), name="logout"),
    path("instances", instances.InstanceListView.as_view(), name="instance-list"),
    path("instances/<str:instance_id>", instances.InstanceDetailView.as_view(), name="instance-detail"),
    path(
        "instances/<str:instance_id>/profile", profile.InstanceProfileView.as_view(), name="instance-profile"
    ),
    # questions to the live session: groups, contacts, read receipts
    path("instances/<str:instance_id>/groups", groups.GroupListView.as_view(), name="group-list"),
    path(
        "instances/<str:instance_id>/groups/<str:jid>", groups.GroupDetailView.as_view(), name="group-detail"
    ),
    path(
        "instances/<str:instance_id>/groups/<str:jid>/participants",
        groups.GroupParticipantsView.as_view(),
        name="group-participants",
    ),
    path(
        "instances/<str:instance_id>/groups/<str:jid>/invite-link",
        groups.GroupInviteLinkView.as_view(),
        name="group-invite-link",
    ),
    path(
        "instances/<str:instance_id>/groups/<str:jid>/leave",
        groups.GroupLeaveView.as_view(),
        name="group-leave",
    ),
    path("get_groups", waziper_server.GetGroupsView.as_view(), name="get-groups"),
    path(
        "instances/<str:instance_id>/contacts/check",
        contacts.NumberCheckView.as_view(),
        name="contacts-check",
    ),
    path(
        "instances/<str:instance_id>/contacts/<str:phone>/picture",
        contacts.PictureView.as_view(),
        name="contacts-picture",
    ),
    path("instances/<str:instance_id>/read", chats.MarkReadView.as_view(), name="mark-read"),
    path("sandbox/<str:instance_id>/scan", sandbox.SandboxScanView.as_view(), name="sandbox-scan"),
    path("sandbox/<str:instance_id>/outbox", sandbox.SandboxOutboxView.as_view(), name="sandbox-outbox"),
    path(
        "sandbox/<str:instance_id>/incoming", sandbox.SandboxIncomingView.as_view(), name="sandbox-incoming"
    ),
    path(
        "sandbox/<str:instance_id>/group_update",
        sandbox.SandboxGroupUpdateView.as_view(),
        name="sandbox-group-update",
    ),
    path(
        "sandbox/<str:instance_id>/contact_update",
        sandbox.SandboxContactUpdateView.as_view(),
        name="sandbox-contact-update",
    ),
    # circuit breaker
    path("reset-circuit-breaker/<str:instance_id>", breaker.ResetBreakerView.as_view(), name="breaker-reset"),
    path(
        "circuit-breaker-status/<str:instance_id>", breaker.BreakerStatusView.as_view(), name="breaker-status"
    ),
    path("force-retry/<str:instance_id>", waziper_server.ForceRetryView.as_view(), name="force-retry"),
    # message queue
    path("send_message", queue.SendMessageView.as_view(), name="send-message"),
    path("send-message/<str:instance_id>", queue.SendMessageByPathView.as_view(), name="send-message-alias"),
    path("send_bulk", queue.SendBulkView.as_view(), name="send-bulk"),
    path("queue-status/<str:instance_id>", queue.QueueStatusView.as_view(), name="queue-status"),
    # messages in both directions
    path("messages", messages.MessageListView.as_view(), name="message-list"),
    path("messages/<str:message_id>", messages.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<str:message_id>/media", messages.MessageMediaView.as_view(), name="message-media"),
    path("messages/<str:message_id>/cancel", queue.MessageCancelView.as_view(), name="message-cancel"),
    # Waziper's public API (its PHP app's controller). Beside /api/schema/ and /api/docs/, which
    # the site's URL map routes: none of these names collide with them.
    path("api/create_instance", waziper_public.CreateInstanceView.as_view(), name="api-create-instance"),
    path("api/get_qrcode", waziper_public.QrCodeView.as_view(), name="api-get-qrcode"),
    path("api/set_webhook", waziper_public.SetWebhookView.as_view(), name="api-set-webhook"),
    path("api/reboot", waziper_public.RebootView.as_view(), name="api-reboot"),
    path("api/reset_instance", waziper_public.ResetInstanceView.as_view(), name="api-reset-instance"),
    path("api/reconnect", waziper_public.ReconnectView.as_view(), name="api-reconnect"),
    path("api/get_groups", waziper_public.GroupsView.as_view(), name="api-get-groups"),
    path("api/send", waziper_public.SendView.as_view(), name="api-send"),
    path("api/send_group", waziper_public.SendGroupView.as_view(), name="api-send-group"),
    # webhooks
    path("webhooks", webhooks.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<str:webhook_id>", webhooks.WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<str:webhook_id>/test", webhooks.WebhookTestView.as_view(), name="webhook-test"),
    path(
        "webhooks/<str:webhook_id>/rotate-secret",
        webhooks.WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<str:webhook_id>/deliveries",
        webhooks.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/retry",
        webhooks.WebhookDeliveryRetryView.as_view(),
        name="webhook-delivery-retry",
    ),
    path("webhooks/<str:webhook_id>/replay", webhooks.WebhookReplayView.as_view(), name="webhook-replay"),
]
