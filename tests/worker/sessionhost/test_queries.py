"""The session queries against a fake neonize client: which neonize calls each op makes (with
which protobuf arguments), and how each answer, built from neonize's own protobuf classes, is
translated into the JSON the API shows. No WhatsApp is reachable here."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support.neonize_protos import ParticipantChange, ReceiptType, jid, kit, pb
from worker.sessionhost import queries
from worker.sessionhost.queries import QueryRefused

GROUP = "120363025246125888@g.us"
ME = pb.JID(User="628111", Server="s.whatsapp.net", Device=7)


class Client:
    """Records each neonize call with its arguments and answers from `answers` (an exception
    in there is raised, as neonize raises its errors)."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            answer = self.answers[name]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


async def run(op: str, client: Client, **args: Any) -> Any:
    return await queries.OPS[op](client, kit(), args)


def group_info(**fields: Any) -> Any:
    return pb.GroupInfo(
        JID=jid(GROUP),
        OwnerJID=jid("628111@s.whatsapp.net"),
        GroupName=pb.GroupName(Name="Shop staff"),
        GroupTopic=pb.GroupTopic(Topic="Shifts and stock"),
        GroupAnnounce=pb.GroupAnnounce(IsAnnounce=True),
        GroupCreated=1_700_000_000,
        Participants=[
            pb.GroupParticipant(JID=jid("628111@s.whatsapp.net"), IsAdmin=True, IsSuperAdmin=True),
            pb.GroupParticipant(JID=jid("628222@s.whatsapp.net"), IsAdmin=True),
            pb.GroupParticipant(JID=jid("93512@lid"), PhoneNumber=jid("628333@s.whatsapp.net")),
        ],
        **fields,
    )


TRANSLATED = {
    "id": GROUP,
    "name": "Shop staff",
    "description": "Shifts and stock",
    "size": 3,
    "owner": "628111@s.whatsapp.net",
    "created_at": 1_700_000_000,
    "announce": True,
    "locked": False,
    "participants": [
        {"id": "628111@s.whatsapp.net", "phone": "628111", "admin": True, "superadmin": True},
        {"id": "628222@s.whatsapp.net", "phone": "628222", "admin": True, "superadmin": False},
        {"id": "93512@lid", "phone": "628333", "admin": False, "superadmin": False},
    ],
}


def test_every_protocol_op_has_a_neonize_answer() -> None:
    assert list(queries.OPS) == list(queries.p.QUERY_OPS)


# -- profile ----------------------------------------------------------------------------------------


async def test_profile_asks_for_the_accounts_picture_and_about_by_its_jid_without_device() -> None:
    client = Client(
        get_me=pb.Device(JID=ME, PushName="Shop"),
        get_profile_picture=pb.ProfilePictureInfo(URL="https://pps.whatsapp.net/v/me.jpg", ID="17"),
        get_user_info=[pb.GetUserInfoSingleReturnFunction(JID=ME, UserInfo=pb.UserInfo(Status="Open 9-5"))],
    )
    answer = await run("profile", client)
    assert answer == {
        "jid": "628111:7@s.whatsapp.net",
        "name": "Shop",
        "picture_url": "https://pps.whatsapp.net/v/me.jpg",
        "about": "Open 9-5",
    }
    assert [name for name, _, _ in client.calls] == ["get_me", "get_profile_picture", "get_user_info"]
    assert client.calls[1][1][0] == jid("628111@s.whatsapp.net")


async def test_profile_without_a_picture_or_about_says_none_for_them() -> None:
    client = Client(
        get_me=pb.Device(JID=ME, PushName="Shop"),
        get_profile_picture=RuntimeError("that user does not have a profile picture"),
        get_user_info=RuntimeError("usync failed"),
    )
    answer = await run("profile", client)
    assert (answer["picture_url"], answer["about"]) == (None, None)


# -- groups -----------------------------------------------------------------------------------------


async def test_groups_translates_each_joined_group() -> None:
    client = Client(get_joined_groups=[group_info()])
    assert await run("groups", client) == [TRANSLATED]
    assert client.calls == [("get_joined_groups", (), {})]


async def test_a_participant_known_only_by_its_lid_has_no_phone() -> None:
    info = group_info()
    del info.Participants[:]
    info.Participants.append(pb.GroupParticipant(JID=jid("93512@lid")))
    translated = queries.group(info)
    assert translated["participants"] == [
        {"id": "93512@lid", "phone": None, "admin": False, "superadmin": False}
    ]


async def test_group_info_asks_by_the_group_jid_protobuf() -> None:
    client = Client(get_group_info=group_info())
    assert await run("group_info", client, jid=GROUP) == TRANSLATED
    name, args, _ = client.calls[0]
    assert (name, args[0]) == ("get_group_info", jid(GROUP))


async def test_a_group_the_account_is_not_in_is_not_found() -> None:
    client = Client(
        get_group_info=RuntimeError("failed to get group info: you're not participating in that group")
    )
    with pytest.raises(QueryRefused) as refused:
        await run("group_info", client, jid=GROUP)
    assert refused.value.code == "not_found"


async def test_group_info_refuses_a_jid_that_is_not_a_group_before_asking() -> None:
    client = Client()
    with pytest.raises(QueryRefused) as refused:
        await run("group_info", client, jid="628111@s.whatsapp.net")
    assert refused.value.code == "invalid"
    assert client.calls == []


async def test_create_passes_the_name_and_participant_jids_and_lists_who_was_not_added() -> None:
    created = group_info()
    created.Participants.append(pb.GroupParticipant(JID=jid("628444@s.whatsapp.net"), Error=403))
    client = Client(create_group=created)
    answer = await run("group_create", client, name="Shop staff", participants=["628222", "628444"])
    name, args, _ = client.calls[0]
    assert (name, args[0]) == ("create_group", "Shop staff")
    assert args[1] == [jid("628222@s.whatsapp.net"), jid("628444@s.whatsapp.net")]
    assert answer["size"] == 3
    assert answer["not_added"] == [
        {
            "participant": "628444",
            "id": "628444@s.whatsapp.net",
            "ok": False,
            "code": 403,
            "reason": queries.PARTICIPANT_ERRORS[403],
        }
    ]


@pytest.mark.parametrize("action", ["add", "remove", "promote", "demote"])
async def test_participant_changes_pass_neonizes_action_and_answer_per_participant(action: str) -> None:
    client = Client(
        update_group_participants=[
            pb.GroupParticipant(JID=jid("628222@s.whatsapp.net")),
            pb.GroupParticipant(JID=jid("93599@lid"), PhoneNumber=jid("628555@s.whatsapp.net"), Error=409),
        ]
    )
    answer = await run(
        "group_participants", client, jid=GROUP, action=action, participants=["628222", "628555", "628666"]
    )
    name, args, _ = client.calls[0]
    assert name == "update_group_participants"
    assert args[0] == jid(GROUP)
    assert args[1] == [jid(f"{n}@s.whatsapp.net") for n in ("628222", "628555", "628666")]
    assert args[2] is ParticipantChange(action)
    assert answer == [
        {"participant": "628222", "id": "628222@s.whatsapp.net", "ok": True, "code": None, "reason": None},
        {
            "participant": "628555",
            "id": "93599@lid",
            "ok": False,
            "code": 409,
            "reason": "already a participant",
        },
        {"participant": "628666", "id": None, "ok": False, "code": None, "reason": "no answer"},
    ]


async def test_a_participant_change_the_account_may_not_make_is_forbidden() -> None:
    client = Client(update_group_participants=RuntimeError("failed to update participants: not-authorized"))
    with pytest.raises(QueryRefused) as refused:
        await run("group_participants", client, jid=GROUP, action="add", participants=["628222"])
    assert refused.value.code == "forbidden"


async def test_an_unknown_participant_action_never_reaches_neonize() -> None:
    client = Client()
    with pytest.raises(QueryRefused):
        await run("group_participants", client, jid=GROUP, action="ban", participants=["628222"])
    assert client.calls == []


@pytest.mark.parametrize(("reset", "revoke"), [(False, False), (True, True)])
async def test_invite_link_revokes_only_on_reset(reset: bool, revoke: bool) -> None:
    client = Client(get_group_invite_link="https://chat.whatsapp.com/AbCdEf123")
    answer = await run("group_invite_link", client, jid=GROUP, reset=reset)
    assert answer == {"link": "https://chat.whatsapp.com/AbCdEf123"}
    assert client.calls == [("get_group_invite_link", (jid(GROUP),), {"revoke": revoke})]


async def test_leave_leaves_by_the_group_jid() -> None:
    client = Client(leave_group=None)
    assert await run("group_leave", client, jid=GROUP) == {"left": True}
    assert client.calls == [("leave_group", (jid(GROUP),), {})]


# -- contacts ---------------------------------------------------------------------------------------


async def test_check_numbers_asks_once_for_all_with_a_plus_and_answers_in_the_asked_order() -> None:
    client = Client(
        is_on_whatsapp=[
            pb.IsOnWhatsAppResponse(Query="+628222", IsIn=True, JID=jid("628222@s.whatsapp.net")),
            pb.IsOnWhatsAppResponse(Query="+628999", IsIn=False),
        ]
    )
    answer = await run("check_numbers", client, phones=["628999", "628222"])
    assert client.calls == [("is_on_whatsapp", ("+628999", "+628222"), {})]
    assert answer == [
        {"phone": "628999", "on_whatsapp": False, "jid": None},
        {"phone": "628222", "on_whatsapp": True, "jid": "628222@s.whatsapp.net"},
    ]


async def test_a_number_whatsapp_left_out_of_its_answer_is_not_on_whatsapp() -> None:
    client = Client(is_on_whatsapp=[])
    assert await run("check_numbers", client, phones=["628222"]) == [
        {"phone": "628222", "on_whatsapp": False, "jid": None}
    ]


async def test_picture_answers_the_url_and_id() -> None:
    client = Client(
        get_profile_picture=pb.ProfilePictureInfo(URL="https://pps.whatsapp.net/v/x.jpg", ID="42")
    )
    answer = await run("picture", client, jid="628222")
    assert answer == {
        "jid": "628222@s.whatsapp.net",
        "url": "https://pps.whatsapp.net/v/x.jpg",
        "id": "42",
        "reason": None,
    }
    assert client.calls[0][1][0] == jid("628222@s.whatsapp.net")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("failed to get profile picture: that user does not have a profile picture", "not_set"),
        ("the user has hidden their profile picture from you", "hidden"),
    ],
)
async def test_no_picture_is_an_answer_with_the_reason(error: str, reason: str) -> None:
    client = Client(get_profile_picture=RuntimeError(error))
    answer = await run("picture", client, jid="628222")
    assert (answer["url"], answer["reason"]) == (None, reason)


# -- mark read ----------------------------------------------------------------------------------


async def test_mark_read_in_a_chat_sends_read_receipts_for_the_ids() -> None:
    client = Client(mark_read=None)
    answer = await run("mark_read", client, chat="628222", message_ids=["3EB0A", "3EB0B"])
    assert answer == {"read": 2}
    chat = jid("628222@s.whatsapp.net")
    assert client.calls == [
        ("mark_read", ("3EB0A", "3EB0B"), {"chat": chat, "sender": chat, "receipt": ReceiptType.READ})
    ]


async def test_mark_read_in_a_group_names_the_sender() -> None:
    client = Client(mark_read=None)
    await run("mark_read", client, chat=GROUP, message_ids=["3EB0A"], sender="628222")
    assert client.calls[0][2]["sender"] == jid("628222@s.whatsapp.net")


async def test_mark_read_in_a_group_without_a_sender_is_refused_before_asking() -> None:
    client = Client()
    with pytest.raises(QueryRefused) as refused:
        await run("mark_read", client, chat=GROUP, message_ids=["3EB0A"])
    assert refused.value.code == "invalid"
    assert client.calls == []


def test_the_enums_given_to_tests_are_neonizes_own() -> None:
    """tests/support/neonize_protos copies two neonize enums (their module loads the Go
    library); a real neonize must agree with the copies."""
    script = (
        "import json; from neonize.utils.enum import ParticipantChange as P, ReceiptType as R; "
        "print(json.dumps([[m.name, m.value] for m in P] + [['READ', R.READ.value.decode()]]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        *([m.name, m.value] for m in ParticipantChange),
        ["READ", ReceiptType.READ.value.decode()],
    ]
