from __future__ import annotations

from django.urls import path

from queueing.api import views

urlpatterns = [
    path("send_message", views.SendMessageView.as_view(), name="send-message"),
    path("send-message/<str:instance_id>", views.SendMessageByPathView.as_view(), name="send-message-alias"),
    path("send_bulk", views.SendBulkView.as_view(), name="send-bulk"),
    path("queue-status/<str:instance_id>", views.QueueStatusView.as_view(), name="queue-status"),
    path("messages/<str:message_id>", views.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<str:message_id>/cancel", views.MessageCancelView.as_view(), name="message-cancel"),
]
