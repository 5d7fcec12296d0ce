"""What a session reports changing about groups and contacts: the cache it changes and the
`group.updated` / `contact.updated` events it emits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from directory import cache, changes
from directory.models import ContactSnapshot, GroupListing, GroupSnapshot
from instances.models import Instance, InstanceEvent
from tests.support.webhooks import make_endpoint
from webhooks import formats
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GROUP, OTHER = "120363000000000001@g.us", "120363000000000002@g.us"
OWN = "628111000222"
BUDI = "628222000111@s.whatsapp.net"


@pytest.fixture
def linked(instance: Instance) -> Instance:
    Instance.objects.filter(pk=instance.pk).update(jid=f"{OWN}:7@s.whatsapp.net")
    return instance


def cached(instance: Instance, *groups: str) -> None:
    """The instance's list of groups, as a group query stored it."""
    listed = [{"id": jid, "name": "Tim", "description": "", "announce": False, "size": 2} for jid in groups]
    cache.store_groups(instance, listed, NOW - timedelta(seconds=10))


def events(instance: Instance, kind: str) -> list[dict[str, Any]]:
    return [e.payload for e in InstanceEvent.objects.filter(instance=instance, kind=kind).order_by("id")]


# -- groups ----------------------------------------------------------------------------------------


def test_a_settings_change_is_written_into_the_cached_group_and_announced(linked: Instance) -> None:
    cached(linked, GROUP, OTHER)
    data = {
        "group_id": GROUP,
        "by": BUDI,
        "at": "2026-12-01T11:59:00+00:00",
        "changes": {"name": "Tim Launch", "announce": True},
        "participants": {},
    }
    changes.group_changed(linked.pk, data, NOW)
    snapshot = GroupSnapshot.objects.get(instance=linked, jid=GROUP)
    assert (snapshot.name, snapshot.data["name"], snapshot.data["announce"]) == (
        "Tim Launch",
        "Tim Launch",
        True,
    )
    assert [g["name"] for g in cache.cached_groups(linked, NOW, 300).data] == ["Tim", "Tim Launch"]
    assert events(linked, "group.updated") == [
        {
            "group_id": GROUP,
            "by": BUDI,
            "at": "2026-12-01T11:59:00+00:00",
            "changes": {"name": "Tim Launch", "announce": True},
            "participants": {},
            "account": None,
            "group_info": None,
        }
    ]


def test_a_change_of_participants_makes_the_group_and_the_list_be_read_again(linked: Instance) -> None:
    cached(linked, GROUP, OTHER)
    changes.group_changed(linked.pk, {"group_id": GROUP, "participants": {"added": [BUDI]}}, NOW)
    assert not GroupSnapshot.objects.filter(instance=linked, jid=GROUP).exists()
    assert not GroupListing.objects.filter(instance=linked).exists()
    [event] = events(linked, "group.updated")
    assert (event["participants"], event["account"]) == ({"added": [BUDI]}, None)


def test_the_accounts_own_removal_is_the_account_leaving_the_group(linked: Instance) -> None:
    cached(linked, GROUP, OTHER)
    removed = {"removed": [f"{OWN}@s.whatsapp.net"]}
    changes.group_changed(linked.pk, {"group_id": GROUP, "participants": removed}, NOW)
    assert [g["id"] for g in cache.cached_groups(linked, NOW, 300).data] == [OTHER]
    assert events(linked, "group.updated")[0]["account"] == "left"


def test_a_deleted_group_leaves_the_list(linked: Instance) -> None:
    cached(linked, GROUP, OTHER)
    changes.group_changed(linked.pk, {"group_id": GROUP, "changes": {"deleted": True}}, NOW)
    assert [g["id"] for g in cache.cached_groups(linked, NOW, 300).data] == [OTHER]
    assert events(linked, "group.updated")[0]["account"] == "left"


def test_a_group_the_account_joined_joins_the_cached_list(linked: Instance) -> None:
    cached(linked, OTHER)
    member = {"id": BUDI, "phone": "628222000111", "admin": True, "superadmin": True}
    info = {
        "id": GROUP,
        "name": "Baru",
        "description": "",
        "size": 1,
        "owner": BUDI,
        "created_at": 1764590400,
        "announce": False,
        "locked": True,
        "participants": [member],
    }
    changes.group_changed(linked.pk, {"group_id": GROUP, "joined": True, "group_info": info}, NOW)
    assert [g["id"] for g in cache.cached_groups(linked, NOW, 300).data] == [GROUP, OTHER]
    [event] = events(linked, "group.updated")
    assert (event["account"], event["group_info"]) == ("joined", info)


def test_the_account_added_by_someone_else_is_a_join_too(linked: Instance) -> None:
    cached(linked, OTHER)
    added = {"added": [f"{OWN}@s.whatsapp.net"]}
    changes.group_changed(linked.pk, {"group_id": GROUP, "participants": added}, NOW)
    assert events(linked, "group.updated")[0]["account"] == "joined"
    assert not GroupListing.objects.filter(instance=linked).exists()  # read the list again


def test_a_change_of_a_group_never_cached_is_announced_and_caches_nothing(linked: Instance) -> None:
    changes.group_changed(linked.pk, {"group_id": GROUP, "changes": {"locked": True}}, NOW)
    assert not GroupSnapshot.objects.exists()
    assert events(linked, "group.updated")[0]["changes"] == {"locked": True}


def test_what_a_change_carries_is_kept_only_with_the_right_types(linked: Instance) -> None:
    data = {
        "group_id": GROUP,
        "changes": {"name": 5, "announce": "yes", "ephemeral_s": True, "locked": False, "color": "red"},
        "participants": {"added": ["not a jid", 7], "kicked": [BUDI]},
        "by": 12,
        "at": "yesterday",
    }
    changes.group_changed(linked.pk, data, NOW)
    [event] = events(linked, "group.updated")
    assert (event["changes"], event["participants"], event["by"], event["at"]) == (
        {"locked": False},
        {},
        None,
        NOW.isoformat(),
    )


def test_a_joined_groups_metadata_keeps_the_group_querys_fields_with_their_types(linked: Instance) -> None:
    make_endpoint(linked.owner, "https://hooks.example.com/w", format=formats.WAZIPER)
    info = {
        "id": GROUP,
        "name": 7,
        "size": "many",
        "owner": ["x"],
        "created_at": True,
        "announce": "yes",
        "participants": ["x", 5, {"id": BUDI, "admin": True, "phone": 628}, {"admin": True}],
        "extra": "not the query's",
    }
    changes.group_changed(linked.pk, {"group_id": GROUP, "joined": True, "group_info": info}, NOW)
    participant = {"id": BUDI, "phone": "", "admin": True, "superadmin": False}
    kept = {
        "id": GROUP,
        "name": "",
        "description": "",
        "size": 1,
        "owner": None,
        "created_at": None,
        "announce": False,
        "locked": False,
        "participants": [participant],
    }
    assert events(linked, "group.updated")[0]["group_info"] == kept
    assert GroupSnapshot.objects.get(instance=linked, jid=GROUP).data == kept
    assert WebhookDelivery.objects.filter(event_type="group.updated").count() == 1


def test_a_change_lists_at_most_a_groups_worth_of_participants(linked: Instance) -> None:
    crowd = [f"{62800000000 + n}@s.whatsapp.net" for n in range(changes.PARTICIPANTS_LIMIT + 50)]
    changes.group_changed(linked.pk, {"group_id": GROUP, "participants": {"added": crowd}}, NOW)
    added = events(linked, "group.updated")[0]["participants"]["added"]
    assert added == crowd[: changes.PARTICIPANTS_LIMIT]


@pytest.mark.parametrize("group_id", [None, "", BUDI, "x" * 200 + "@g.us"])
def test_a_change_naming_no_group_is_dropped(linked: Instance, group_id: Any) -> None:
    assert changes.group_changed(linked.pk, {"group_id": group_id, "changes": {"locked": True}}, NOW) is None
    assert not InstanceEvent.objects.exists()


# -- contacts: pictures ----------------------------------------------------------------------------


def test_a_picture_change_is_kept_and_announced_with_the_number(linked: Instance) -> None:
    data = {"contact_id": "628222000111:3@s.whatsapp.net", "changes": {"picture": "removed"}, "by": BUDI}
    changes.contact_changed(linked.pk, data, NOW)
    contact = ContactSnapshot.objects.get(instance=linked)
    assert (contact.jid, contact.phone, contact.picture, contact.picture_at) == (
        BUDI,
        "628222000111",
        "removed",
        NOW,
    )
    assert events(linked, "contact.updated") == [
        {
            "contact_id": BUDI,
            "phone": "628222000111",
            "by": BUDI,
            "at": NOW.isoformat(),
            "changes": {"picture": "removed"},
        }
    ]


def test_a_hidden_contacts_picture_keeps_the_number_the_session_gave(linked: Instance) -> None:
    data = {"contact_id": "190000111222333@lid", "phone": "628222000111", "changes": {"picture": "changed"}}
    changes.contact_changed(linked.pk, data, NOW)
    assert events(linked, "contact.updated")[0]["phone"] == "628222000111"


@pytest.mark.parametrize(
    "data", [{"changes": {"picture": "changed"}}, {"contact_id": BUDI, "changes": {"picture": "blue"}}]
)
def test_a_picture_change_naming_no_contact_or_change_is_dropped(linked: Instance, data: Any) -> None:
    assert changes.contact_changed(linked.pk, data, NOW) is None
    assert not ContactSnapshot.objects.exists()


# -- contacts: push names --------------------------------------------------------------------------


def message(name: str, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    data = {"sender": BUDI, "sender_phone": "628222000111", "push_name": name, "from_me": False}
    return {**data, "at": at.isoformat(), **fields}


def test_the_first_push_name_of_a_contact_is_announced(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, message("Budi"), NOW)
    assert events(linked, "contact.updated") == [
        {
            "contact_id": BUDI,
            "phone": "628222000111",
            "by": None,
            "at": NOW.isoformat(),
            "changes": {"push_name": "Budi"},
            "previous_push_name": None,
        }
    ]


def test_the_same_push_name_again_is_no_change(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, message("Budi"), NOW)
    changes.push_name_seen(linked.pk, message("Budi", NOW + timedelta(minutes=1)), NOW)
    assert len(events(linked, "contact.updated")) == 1


def test_a_new_push_name_is_announced_with_the_one_before(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, message("Budi"), NOW)
    changes.push_name_seen(linked.pk, message("Budi Santoso", NOW + timedelta(minutes=1)), NOW)
    last = events(linked, "contact.updated")[-1]
    assert (last["changes"], last["previous_push_name"]) == ({"push_name": "Budi Santoso"}, "Budi")
    assert ContactSnapshot.objects.get(instance=linked).push_name == "Budi Santoso"


def test_an_older_message_with_an_older_name_changes_nothing(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, message("Budi Santoso"), NOW)
    changes.push_name_seen(linked.pk, message("Budi", NOW - timedelta(days=1)), NOW)
    assert len(events(linked, "contact.updated")) == 1
    assert ContactSnapshot.objects.get(instance=linked).push_name == "Budi Santoso"


def test_a_device_of_the_sender_is_the_same_contact(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, message("Budi"), NOW)
    changes.push_name_seen(linked.pk, message("Budi", sender="628222000111:5@s.whatsapp.net"), NOW)
    assert ContactSnapshot.objects.get(instance=linked).jid == BUDI
    assert len(events(linked, "contact.updated")) == 1


def test_a_picture_change_first_does_not_hide_the_first_push_name(linked: Instance) -> None:
    changes.contact_changed(linked.pk, {"contact_id": BUDI, "changes": {"picture": "changed"}}, NOW)
    changes.push_name_seen(linked.pk, message("Budi"), NOW)
    assert [e["changes"] for e in events(linked, "contact.updated")] == [
        {"picture": "changed"},
        {"push_name": "Budi"},
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"from_me": True},
        {"push_name": ""},
        {"push_name": "  "},
        {"push_name": " \x00"},
        {"push_name": None},
        {"sender": ""},
    ],
)
def test_no_name_or_the_accounts_own_message_says_nothing_of_contacts(linked: Instance, fields: Any) -> None:
    assert changes.push_name_seen(linked.pk, message("Budi", **fields), NOW) is None
    assert not ContactSnapshot.objects.exists()


# -- what no database stores -----------------------------------------------------------------------


def test_a_push_name_no_database_stores_is_cleaned_and_announced_once(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, message("Bu\x00di\ud800"), NOW)
    changes.push_name_seen(linked.pk, message("Bu\x00di\ud800", NOW + timedelta(minutes=1)), NOW)
    assert ContactSnapshot.objects.get(instance=linked).push_name == "Budi?"
    assert [e["changes"] for e in events(linked, "contact.updated")] == [{"push_name": "Budi?"}]


def test_a_group_name_no_database_stores_is_cleaned_in_the_cache_and_the_event(linked: Instance) -> None:
    cached(linked, GROUP)
    data = {"group_id": GROUP, "changes": {"name": "Tim\x00\ud800", "description": "a\x00b"}}
    changes.group_changed(linked.pk, data, NOW)
    assert GroupSnapshot.objects.get(instance=linked, jid=GROUP).name == "Tim?"
    assert events(linked, "group.updated")[0]["changes"] == {"name": "Tim?", "description": "ab"}


# -- pruning ---------------------------------------------------------------------------------------


def test_contacts_not_heard_of_within_the_inbox_retention_are_pruned(linked: Instance, settings: Any) -> None:
    old = NOW - timedelta(days=settings.WAZIPER_INBOX_RETENTION_DAYS + 1)
    changes.push_name_seen(linked.pk, message("Budi", old, sender=BUDI), NOW)
    changes.push_name_seen(linked.pk, message("Sari", old, sender="628333@s.whatsapp.net"), NOW)
    changes.contact_changed(
        linked.pk, {"contact_id": "628333@s.whatsapp.net", "changes": {"picture": "changed"}}, NOW
    )
    changes.push_name_seen(linked.pk, message("Tono", NOW, sender="628444@s.whatsapp.net"), NOW)
    assert changes.prune_contacts(NOW) == 1
    assert sorted(ContactSnapshot.objects.values_list("push_name", flat=True)) == ["Sari", "Tono"]


def test_a_time_no_calendar_holds_in_utc_is_the_time_of_receipt(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, {**message("Budi"), "at": "0001-01-01T00:00:00+05:00"}, NOW)
    assert ContactSnapshot.objects.get(instance=linked).push_name_at == NOW


def test_an_unlinked_account_leaves_no_groups_or_contact_names_behind(linked: Instance, owner: Any) -> None:
    other = Instance.objects.create(owner=owner, transport="sandbox", instance_id="0123456789ABC")
    cached(linked, GROUP)
    cached(other, OTHER)
    changes.push_name_seen(linked.pk, message("Budi"), NOW)
    changes.account_unlinked(linked.pk)
    assert list(GroupSnapshot.objects.values_list("jid", flat=True)) == [OTHER]
    assert list(GroupListing.objects.values_list("instance_id", flat=True)) == [other.pk]
    assert not ContactSnapshot.objects.filter(instance=linked).exists()


def test_a_name_seen_again_after_the_account_was_unlinked_is_announced_as_new(linked: Instance) -> None:
    changes.push_name_seen(linked.pk, message("Budi"), NOW)
    changes.account_unlinked(linked.pk)
    changes.push_name_seen(linked.pk, message("Budi", NOW + timedelta(minutes=1)), NOW)
    assert len(events(linked, "contact.updated")) == 2
