from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from notifications.models import Notification
from tests.conftest import Daphne, manage, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = StringIO()
    call_command("send_notification", *args, stdout=out)
    return out.getvalue()


def test_send_to_users_group_and_all(make_user: Callable[..., Any]) -> None:
    make_user("ann")
    bob = make_user("bob")
    Group.objects.create(name="ops").user_set.add(bob)
    assert "Sent notification" in run("--user", "ann", "--user", "bob", "--title", "hi")
    result = json.loads(run("--group", "ops", "--title", "deploy", "--level", "success", "--json"))
    assert (result["sent"], result["recipients"], result["usernames"]) == (True, 1, ["bob"])
    result = json.loads(run("--all", "--title", "maintenance", "--link", "/chat/", "--json"))
    assert result["audience"] == "all_users"
    assert Notification.objects.count() == 3


def test_dry_run_sends_nothing(make_user: Callable[..., Any]) -> None:
    make_user("ann")
    out = run("--user", "ann", "--title", "hi", "--dry-run")
    assert "Would send to 1 recipient(s)" in out
    assert "ann" in out
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "ghost", "--title", "t"], "no such user: ghost"),
        (["--group", "nobody", "--title", "t"], "no such group: nobody"),
        (["--all", "--title", "  "], "needs a title"),
        (["--all", "--title", "t", "--link", "javascript:alert(1)"], "link must be a page"),
        (["--all", "--title", "t", "--link", "general"], "link must be a page"),
        (["--all", "--title", "t", "--link", "/" + "x" * 600], "at most 500"),
        (["--user", "gone", "--title", "t"], "gone is deactivated"),
    ],
)
def test_bad_input_exits_non_zero_and_sends_nothing(
    make_user: Callable[..., Any], args: list[str], message: str
) -> None:
    make_user("gone", is_active=False)
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Notification.objects.exists()


def test_users_are_found_in_any_case(make_user: Callable[..., Any]) -> None:
    alice = make_user("alice")
    result = json.loads(run("--user", "ALICE", "--title", "hi", "--json"))
    assert (result["sent"], result["usernames"]) == (True, ["alice"])
    assert Notification.objects.get().recipients.get().user == alice


def test_with_json_every_error_is_json() -> None:
    refused = manage("send_notification", "--user", "ghost", "--title", "t", "--json", check=False)
    assert refused.returncode == 1
    assert json.loads(refused.stdout) == {"sent": False, "error": "no such user: ghost"}
    invalid = manage("send_notification", "--all", "--title", " ", "--json", check=False)
    assert invalid.returncode == 1
    assert json.loads(invalid.stdout) == {"sent": False, "error": "A notification needs a title."}
    usage = manage("send_notification", "--title", "t", "--json", check=False)
    assert usage.returncode == 2
    assert json.loads(usage.stdout)["sent"] is False
    assert "--user" in json.loads(usage.stdout)["error"]
    assert not Notification.objects.exists()


def test_bad_level_and_missing_audience_are_usage_errors() -> None:
    for args in (["--all", "--title", "t", "--level", "loud"], ["--title", "t"]):
        result = manage("send_notification", *args, check=False)
        assert result.returncode != 0
        assert "error" in result.stderr
    assert not Notification.objects.exists()


async def test_command_in_another_process_reaches_a_daphne_socket(
    daphne_server: Daphne, make_user: Callable[..., Any]
) -> None:
    user = await database_sync_to_async(make_user)("carol")
    cookie = await database_sync_to_async(session_cookie)(user)
    async with websockets.connect(
        f"{daphne_server.ws_url}/ws/notifications/",
        origin=daphne_server.url,
        additional_headers={"Cookie": cookie},
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "sync"
        result = await asyncio.to_thread(
            manage, "send_notification", "--user", "carol", "--title", "from the CLI"
        )
        assert "Sent notification" in result.stdout
        async with asyncio.timeout(10):
            frame = json.loads(await ws.recv())
        assert frame["type"] == "notification"
        assert frame["notification"]["title"] == "from the CLI"
