"""The sandbox behaviour's address book keys: groups and which numbers have WhatsApp, each
mistake named by its path."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from instances.validation import validate_sandbox_behaviour

GROUP = "120363000000000001@g.us"


def test_groups_are_normalized_with_their_defaults() -> None:
    behaviour = validate_sandbox_behaviour(
        {
            "groups": [
                {"id": GROUP, "participants": ["+628200000002", {"phone": "628200000003", "admin": True}]}
            ]
        }
    )
    assert behaviour["groups"] == [
        {
            "id": GROUP,
            "name": "",
            "description": "",
            "admin": True,
            "participants": [
                {"phone": "628200000002", "admin": False, "superadmin": False},
                {"phone": "628200000003", "admin": True, "superadmin": False},
            ],
        }
    ]


@pytest.mark.parametrize("rule", ["all", "none"])
def test_on_whatsapp_takes_a_rule(rule: str) -> None:
    assert validate_sandbox_behaviour({"on_whatsapp": rule}) == {"on_whatsapp": rule}


def test_on_whatsapp_takes_a_list_of_numbers() -> None:
    assert validate_sandbox_behaviour({"on_whatsapp": ["+628200000002"]}) == {"on_whatsapp": ["628200000002"]}


@pytest.mark.parametrize(
    ("behaviour", "named"),
    [
        ({"groups": {}}, "sandbox.groups"),
        ({"groups": [{"id": "12345@s.whatsapp.net"}]}, "sandbox.groups.0.id"),
        ({"groups": [{"id": GROUP}, {"id": GROUP}]}, "sandbox.groups.1.id"),
        ({"groups": [{"id": GROUP, "colour": "red"}]}, "sandbox.groups.0"),
        ({"groups": [{"id": GROUP, "name": 5}]}, "sandbox.groups.0.name"),
        ({"groups": [{"id": GROUP, "admin": "yes"}]}, "sandbox.groups.0.admin"),
        ({"groups": [{"id": GROUP, "participants": ["12"]}]}, "sandbox.groups.0.participants.0"),
        (
            {"groups": [{"id": GROUP, "participants": [{"phone": "628200000002", "admin": 1}]}]},
            "participants.0.admin",
        ),
        ({"groups": [{"id": GROUP}] * 101}, "at most 100"),
        ({"on_whatsapp": "some"}, "sandbox.on_whatsapp"),
        ({"on_whatsapp": ["628200000002", "x"]}, "sandbox.on_whatsapp.1"),
    ],
)
def test_mistakes_are_named_by_their_path(behaviour: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named.replace(".", r"\.")):
        validate_sandbox_behaviour(behaviour)
