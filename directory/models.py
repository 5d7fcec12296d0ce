"""What live sessions said about groups, numbers and contacts, kept so repeated reads do not ask
WhatsApp each time and so a change the session reports is announced once. Only `directory.cache`
and `directory.changes` change these tables; `operations/groups.py` and `operations/contacts.py`
decide when to ask the session instead."""

from __future__ import annotations

from django.db import models


class GroupListing(models.Model):
    """When an instance's whole list of groups was last read from its session: the list is
    complete (a group without a snapshot is one the account is not in) while this is fresh."""

    instance = models.OneToOneField(
        "instances.Instance", on_delete=models.CASCADE, primary_key=True, related_name="group_listing"
    )
    fetched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"groups of {self.instance_id} at {self.fetched_at:%Y-%m-%d %H:%M:%S}"


class GroupSnapshot(models.Model):
    """One group as the session last described it (worker/sessionhost/queries.py `group`)."""

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="groups")
    jid = models.CharField(max_length=128)
    name = models.CharField(max_length=200, blank=True)
    data = models.JSONField()
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["instance", "name", "jid"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "jid"], name="group_snapshot_per_instance")
        ]

    def __str__(self) -> str:
        return f"{self.name or self.jid} ({self.instance_id})"


class NumberCheck(models.Model):
    """Whether a phone number has WhatsApp, as an instance's session last answered."""

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="number_checks")
    phone = models.CharField(max_length=20)
    on_whatsapp = models.BooleanField()
    jid = models.CharField(max_length=128, blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "phone"], name="number_check_per_instance")
        ]
        indexes = [models.Index(fields=["checked_at"], name="number_check_age")]

    def __str__(self) -> str:
        return f"{self.phone}: {'on' if self.on_whatsapp else 'not on'} WhatsApp ({self.instance_id})"


class ContactSnapshot(models.Model):
    """A contact as an instance's session last reported it (directory/changes.py): the push name
    its messages carry and whether it changed its picture, so a change is announced once."""

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="contacts")
    jid = models.CharField(max_length=128)
    phone = models.CharField(max_length=20, blank=True)
    push_name = models.CharField(max_length=128, blank=True)
    # When WhatsApp said the push name (the message's time): an older message says nothing new.
    push_name_at = models.DateTimeField(null=True, blank=True)
    picture = models.CharField(max_length=16, blank=True, help_text="changed | removed: its last change")
    picture_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["instance", "jid"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "jid"], name="contact_snapshot_per_instance")
        ]

    def __str__(self) -> str:
        return f"{self.push_name or self.phone or self.jid} ({self.instance_id})"
