from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from chat import selectors, services
from chat.models import Message, Room

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_room() -> None:
    assert "Created room 'lounge'" in run(
        "create_room", "lounge", "--title", "Lounge", "--retention", "25"
    )
    room = Room.objects.get(slug="lounge")
    assert (room.title, room.retention) == ("Lounge", 25)
    out = run("create_room", "archive", "--keep-days", "30")
    assert "This room keeps messages for 30 days." in out
    assert "This room keeps everything." in run("create_room", "forever")


def test_set_retention(make_room: Callable[..., Room], make_user: Callable[..., Any]) -> None:
    author = make_user()
    room = make_room(retention=10)
    for i in range(6):
        services.message_post(room=room, author=author, body=f"m{i}")
    out = run("set_retention", room.slug, "--keep-newest", "2")
    assert "This room keeps the newest 2 messages. Removed 4." in out
    assert "This room keeps everything. Removed 0." in run("set_retention", room.slug)
    assert Room.objects.get(pk=room.pk).retention == 0
    with pytest.raises(CommandError, match="no such room"):
        run("set_retention", "nope")
    with pytest.raises(CommandError, match="retention"):
        run("set_retention", room.slug, "--keep-days", "99999")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["bad slug!"], "slug"),
        (["ok-slug", "--retention", "-1"], "retention"),
        (["ok-slug", "--retention", "100001"], "retention"),
        (["ok-slug", "--keep-days", "-3"], "retention"),
        (["ok-slug", "--description", "x" * 1001], "description"),
        (["ok-slug", "--title", "\u200b\x00"], "title"),
    ],
)
def test_create_room_refuses_bad_input(args: list[str], error: str) -> None:
    with pytest.raises(CommandError, match=error):
        run("create_room", *args)


def test_create_room_refuses_duplicates(make_room: Callable[..., Room]) -> None:
    make_room(slug="taken")
    with pytest.raises(CommandError, match="already exists"):
        run("create_room", "taken")
    make_room(slug="ops-room")
    with pytest.raises(CommandError, match="in any case"):
        run("create_room", "OPS-ROOM")
    assert Room.objects.filter(slug__iexact="ops-room").count() == 1


def test_prune_rooms(make_room: Callable[..., Room], make_user: Callable[..., Any]) -> None:
    author = make_user()
    room = make_room(retention=0)
    for i in range(7):
        services.message_post(room=room, author=author, body=f"m{i}")
    Room.objects.filter(pk=room.pk).update(retention=4)
    out = run("prune_rooms", "--room", room.slug)
    assert f"{room.slug}: removed 3" in out
    assert Message.objects.filter(room=room).count() == 4
    with pytest.raises(CommandError, match="no such room: nope"):
        run("prune_rooms", "--room", "nope")


def test_post_message(make_room: Callable[..., Room], make_user: Callable[..., Any]) -> None:
    room = make_room()
    user = make_user("oper")
    assert "Posted message" in run("post_message", room.slug, "--user", "oper", "--body", "hi")
    assert Message.objects.get(room=room).author == user
    with pytest.raises(CommandError, match="no such user"):
        run("post_message", room.slug, "--user", "ghost", "--body", "hi")
    with pytest.raises(CommandError, match="no such room"):
        run("post_message", "nowhere", "--user", "oper", "--body", "hi")
    with pytest.raises(CommandError, match="empty"):
        run("post_message", room.slug, "--user", "oper", "--body", "   ")


def test_create_room_private_with_members_owners_and_a_group(
    make_user: Callable[..., Any],
) -> None:
    for name in ("ann", "ben", "cat", "dan"):
        make_user(name)
    team = Group.objects.create(name="ops")
    team.user_set.add(get_user("dan"))
    out = run(
        "create_room", "war-room", "--private", "--owner", "ann",
        "--member", "ben", "--member", "cat", "--group", "ops",
    )  # fmt: skip
    assert "Created private room 'war-room'" in out
    room = Room.objects.get(slug="war-room")
    members, count = selectors.room_members(room=room, limit=10)
    assert [(m.username, m.role, m.through_group) for m in members] == [
        ("ann", "owner", False),
        ("ben", "member", False),
        ("cat", "member", False),
        ("dan", "member", True),
    ]
    assert count == 4
    with pytest.raises(CommandError, match="no active user called 'zed'"):
        run("create_room", "other", "--private", "--member", "zed")
    assert not Room.objects.filter(slug="other").exists()  # nothing half made


def test_room_members_adds_removes_and_lists(make_user: Callable[..., Any]) -> None:
    for name in ("ann", "ben"):
        make_user(name)
    run("create_room", "desk", "--private", "--owner", "ann")
    out = run("room_members", "desk", "--add", "ben", "--role", "moderator")
    assert "Added ben as moderator." in out
    assert "ben: moderator" in out
    out = run("room_members", "desk", "--remove", "ben")
    assert "Removed ben." in out
    assert "desk (private): 1 member(s)" in out
    with pytest.raises(CommandError, match="no room called 'nope'"):
        run("room_members", "nope")


def get_user(name: str) -> Any:
    return get_user_model().objects.get(username=name)
