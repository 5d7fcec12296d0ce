"""The sandbox phone's address book: groups and WhatsApp numbers from the behaviour JSON,
answered in the shapes neonize's are, and changed by what it is asked."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from instances.validation import validate_sandbox_behaviour
from worker.sessionhost.queries import QueryRefused
from worker.transports.sandbox_book import NOT_ADMIN, NOT_IN_GROUP, SandboxBook

OWN = "628100000001:12@s.whatsapp.net"
STAFF = "120363000000000001@g.us"
READONLY = "120363000000000002@g.us"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def book(**behaviour: Any) -> SandboxBook:
    behaviour.setdefault(
        "groups",
        [
            {
                "id": STAFF,
                "name": "Staff",
                "description": "Shifts",
                "participants": ["628200000002", {"phone": "628200000003", "superadmin": True}],
            },
            {"id": READONLY, "name": "News", "admin": False, "participants": ["628200000004"]},
        ],
    )
    return SandboxBook(validate_sandbox_behaviour(behaviour), OWN, random.Random(1))


def members(answer: dict[str, Any]) -> dict[str, tuple[bool, bool]]:
    return {p["phone"]: (p["admin"], p["superadmin"]) for p in answer["participants"]}


def test_groups_come_from_the_behaviour_with_the_account_as_a_participant() -> None:
    groups = book().list_groups({})
    assert [(g["id"], g["name"], g["size"]) for g in groups] == [(STAFF, "Staff", 3), (READONLY, "News", 2)]
    assert members(groups[0]) == {
        "628200000002": (False, False),
        "628200000003": (True, True),
        "628100000001": (True, False),
    }
    assert groups[0]["owner"] == "628200000003@s.whatsapp.net"


def test_a_group_the_account_is_not_in_is_not_found() -> None:
    with pytest.raises(QueryRefused) as refused:
        book().group_info({"jid": "120363999999999999@g.us"})
    assert (str(refused.value), refused.value.code) == (NOT_IN_GROUP, "not_found")


def test_create_makes_the_account_superadmin_and_leaves_out_numbers_without_whatsapp() -> None:
    phone = book(on_whatsapp=["628200000002"])
    created = phone.create({"name": "Launch", "participants": ["628200000002", "628200000009"]}, NOW)
    assert members(created) == {"628100000001": (True, True), "628200000002": (False, False)}
    assert created["created_at"] == int(NOW.timestamp())
    assert [(o["participant"], o["code"]) for o in created["not_added"]] == [("628200000009", 404)]
    assert phone.group_info({"jid": created["id"]}) == {k: v for k, v in created.items() if k != "not_added"}


def test_participants_are_added_promoted_demoted_and_removed_with_an_answer_each() -> None:
    phone = book(on_whatsapp=["628200000005", "628200000002"])

    def change(action: str, *phones: str) -> list[tuple[str, bool, int | None]]:
        answers = phone.change_participants({"jid": STAFF, "action": action, "participants": list(phones)})
        return [(a["participant"], a["ok"], a["code"]) for a in answers]

    assert change("add", "628200000005", "628200000002", "628200000006") == [
        ("628200000005", True, None),
        ("628200000002", False, 409),  # already in
        ("628200000006", False, 404),  # not on WhatsApp
    ]
    assert change("promote", "628200000005") == [("628200000005", True, None)]
    assert members(phone.group_info({"jid": STAFF}))["628200000005"] == (True, False)
    assert change("demote", "628200000005", "628200000003") == [
        ("628200000005", True, None),
        ("628200000003", False, 406),  # the creator stays
    ]
    assert change("remove", "628200000005", "628200000007") == [
        ("628200000005", True, None),
        ("628200000007", False, 404),
    ]
    assert "628200000005" not in members(phone.group_info({"jid": STAFF}))


def test_changes_in_a_group_the_account_does_not_administer_are_forbidden() -> None:
    with pytest.raises(QueryRefused) as refused:
        book().change_participants({"jid": READONLY, "action": "add", "participants": ["628200000002"]})
    assert (str(refused.value), refused.value.code) == (NOT_ADMIN, "forbidden")


def test_the_invite_link_stays_until_it_is_reset() -> None:
    phone = book()
    first = phone.invite_link({"jid": STAFF})["link"]
    assert first.startswith("https://chat.whatsapp.com/")
    assert phone.invite_link({"jid": STAFF})["link"] == first
    assert phone.invite_link({"jid": STAFF, "reset": True})["link"] != first


def test_a_group_left_is_gone() -> None:
    phone = book()
    assert phone.leave({"jid": READONLY}) == {"left": True}
    assert [g["id"] for g in phone.list_groups({})] == [STAFF]


def test_a_contacts_change_to_a_group_changes_its_settings_and_members() -> None:
    phone = book()
    participants = {"added": ["628200000009"], "promoted": ["628200000002"], "removed": ["628200000003"]}
    phone.apply_change(STAFF, {"name": "Staff 2027", "announce": True, "locked": True}, participants)
    staff = phone.group_info({"jid": STAFF})
    assert (staff["name"], staff["description"], staff["announce"], staff["locked"]) == (
        "Staff 2027",
        "Shifts",
        True,
        True,
    )
    assert members(staff) == {
        "628200000002": (True, False),
        "628100000001": (True, False),
        "628200000009": (False, False),
    }


def test_the_accounts_removal_by_a_contact_takes_the_group_out_of_the_book() -> None:
    phone = book()
    phone.apply_change(READONLY, {}, {"removed": ["628100000001"]})
    assert [g["id"] for g in phone.list_groups({})] == [STAFF]


def test_a_change_to_a_group_not_in_the_book_changes_nothing() -> None:
    phone = book()
    phone.apply_change("120363000000000009@g.us", {"name": "Other"}, {"added": ["628200000009"]})
    assert [g["id"] for g in phone.list_groups({})] == [STAFF, READONLY]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("all", [True, True]), ("none", [False, False]), (["628200000002"], [True, False])],
)
def test_numbers_on_whatsapp_follow_the_rule(rule: Any, expected: list[bool]) -> None:
    answers = book(on_whatsapp=rule).check_numbers({"phones": ["628200000002", "628200000009"]})
    assert [a["on_whatsapp"] for a in answers] == expected


def test_a_number_on_whatsapp_is_answered_with_its_jid() -> None:
    assert book().check_numbers({"phones": ["628200000002"]}) == [
        {"phone": "628200000002", "on_whatsapp": True, "jid": "628200000002@s.whatsapp.net"}
    ]


def test_the_accounts_own_number_is_on_whatsapp_whatever_the_rule() -> None:
    assert book(on_whatsapp="none").check_numbers({"phones": ["628100000001"]})[0]["on_whatsapp"]


def test_a_picture_is_shown_for_numbers_on_whatsapp_only() -> None:
    phone = book(on_whatsapp=["628200000002"])
    assert (
        phone.picture({"jid": "628200000002"})["url"] == "https://sandbox.invalid/pictures/628200000002.jpg"
    )
    assert phone.picture({"jid": "628200000009"})["reason"] == "not_set"


def test_mark_read_is_recorded_and_a_group_needs_the_sender() -> None:
    phone = book()
    assert phone.mark_read({"chat": "628200000002", "message_ids": ["3EB0A"]}) == {"read": 1}
    with pytest.raises(QueryRefused):
        phone.mark_read({"chat": STAFF, "message_ids": ["3EB0B"]})
    assert phone.read == [("628200000002@s.whatsapp.net", ["3EB0A"], "628200000002@s.whatsapp.net")]
