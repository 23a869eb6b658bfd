"""Snake arenas over the real Redis channel layer: joining, steering, the rules of input,
rounds and their stored results, the lobby, staff commands and dropping slow readers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from django.utils import timezone

from game import protocol, selectors, services, snake
from game.arena import host as arena_host
from game.arena import store as arena_store
from game.arena.world import Meta, results_of
from game.models import Arena, ArenaResult
from realtime.errors import ActionError
from realtime.hub import get_hub
from tests.conftest import Socket, open_socket
from tests.game.conftest import until_reported
from tests.game.test_consumers import user_with_cookie

pytestmark = pytest.mark.django_db(transaction=True)
LOBBY = "/ws/game/lobby/"


def path(arena: Arena, code: str | None = None) -> str:
    return f"/ws/game/arena/{arena.pk}/" + (f"?code={code}" if code else "")


async def world_where(ws: Socket, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        world = (await ws.next("world"))["world"]
        if check(world):
            return world


async def tick_where(
    ws: Socket, check: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = await ws.next("tick", timeout=max(0.1, deadline - time.monotonic()))
        if check(frame):
            return frame


async def drain(ws: Socket) -> None:
    while True:
        await ws.next("tick")


async def new_arena(user: Any, private: bool = False) -> Arena:
    return await database_sync_to_async(services.arena_create)(user=user, private=private)


async def test_players_join_and_steer_and_a_spectator_sees_it_all(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    red, red_cookie = await user_with_cookie(make_user, "red")
    yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    arena = await new_arena(red)
    async with (
        open_socket(path(arena)) as watcher,
        open_socket(path(arena), cookie=red_cookie) as r,
        open_socket(path(arena), cookie=yellow_cookie) as y,
    ):
        sync = await watcher.next("sync")
        assert sync["arena"]["name"] == arena.name
        assert sync["you"] == {"id": None, "username": None}
        await r.send({"type": "join", "ref": "j"})
        assert (await r.next("ack"))["ref"] == "j"
        world = await world_where(r, lambda w: w["phase"] == "play")
        assert [p["username"] for p in world["players"]] == ["red"]
        await y.send({"type": "join"})
        joined = await tick_where(
            watcher, lambda t: any(p["id"] == yellow.pk for p in t.get("joined", []))
        )
        assert joined["joined"] == [{"id": yellow.pk, "username": "yellow"}]
        # Both snakes are on the grid; a turn is applied and acknowledged by sequence.
        await tick_where(y, lambda t: any(s["player"] == yellow.pk for s in t.get("spawned", [])))
        await r.send({"type": "turn", "dir": "up", "seq": 1, "snake": red.pk})
        acked = await tick_where(watcher, lambda t: [red.pk, 1] in t.get("acks", []))
        moved = {p for p, _x, _y, _tail in acked.get("moved", [])}
        died = {p for p, _killer in acked.get("died", [])}
        assert red.pk in moved | died  # it moved that tick (or crashed)
        # The spectator's ticks are the players' ticks: the same numbers, in order.
        ticks = [f["t"] for f in watcher.seen if f["type"] == "tick"]
        assert ticks == sorted(ticks)
        assert ticks == list(range(ticks[0], ticks[-1] + 1))


async def test_every_change_of_players_names_them_the_same_way(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """``joined`` and ``left`` name players as the world's ``players`` does; a round's
    first tick says who it started with (the first player's join too); a change between
    rounds comes at once, in a world."""
    arena_settings.ARENA_ROUND_SECONDS = 1.5
    arena_settings.ARENA_RESULTS_SECONDS = 3.0
    red, red_cookie = await user_with_cookie(make_user, "red")
    yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    arena = await new_arena(red)
    red_named = {"id": red.pk, "username": "red"}
    yellow_named = {"id": yellow.pk, "username": "yellow"}
    async with (
        open_socket(path(arena)) as watcher,
        open_socket(path(arena), cookie=red_cookie) as r,
        open_socket(path(arena), cookie=yellow_cookie) as y,
    ):
        await watcher.next("sync")
        await r.send({"type": "join"})
        world = await world_where(watcher, lambda w: w["phase"] == "play")
        first = await watcher.next("tick")
        assert first["t"] == world["tick"] + 1
        assert first["joined"] == [red_named] == world["players"]
        await y.send({"type": "join"})
        joined = await tick_where(watcher, lambda t: "joined" in t)
        assert joined["joined"] == [yellow_named]
        await y.send({"type": "leave"})
        left = await tick_where(watcher, lambda t: "left" in t)
        assert left["left"] == [yellow_named]
        # Between rounds (no ticks), yellow joins: a world says so before the next round.
        await watcher.next("round_over")
        await y.send({"type": "join"})
        between = await world_where(watcher, lambda w: yellow_named in w["players"])
        assert between["phase"] == "results"
        world = await world_where(watcher, lambda w: w["phase"] == "play")
        watcher.unread.clear()  # the last round's ticks, passed over while waiting
        first = await watcher.next("tick")
        assert first["t"] == world["tick"] + 1
        assert first["joined"] == sorted([red_named, yellow_named], key=lambda p: p["id"])


async def test_inputs_from_a_spectator_or_for_another_snake_are_refused(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    red, red_cookie = await user_with_cookie(make_user, "red")
    yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    arena = await new_arena(red)
    async with (
        open_socket(path(arena), cookie=red_cookie) as r,
        open_socket(path(arena), cookie=yellow_cookie) as y,
        open_socket(path(arena)) as visitor,
    ):
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        await y.send({"type": "turn", "dir": "up", "seq": 1, "ref": "spectator"})
        error = await y.next("error")
        assert (error["code"], error["ref"]) == ("forbidden", "spectator")
        await visitor.send({"type": "join", "ref": "v"})
        assert (await visitor.next("error"))["code"] == "auth_required"
        await r.send({"type": "turn", "dir": "up", "seq": 2, "snake": yellow.pk, "ref": "x"})
        error = await r.next("error")
        assert (error["code"], error["message"]) == ("forbidden", "That is not your snake.")
        await r.send({"type": "turn", "dir": "north", "seq": 3, "ref": "n"})
        assert (await r.next("error"))["code"] == "invalid"
        await r.send({"type": "turn", "dir": "up", "ref": "s"})
        assert (await r.next("error"))["code"] == "invalid"
        for ws in (r, y, visitor):
            await ws.usable()


async def test_two_turns_a_tick_are_kept_and_the_rest_dropped(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    arena_settings.ARENA_TICKS_PER_SECOND = 2.0
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        await r.next("tick")  # just after a tick: the next is half a second away
        for seq, direction in enumerate(["up", "left", "down", "right", "up"], start=1):
            await r.send({"type": "turn", "dir": direction, "seq": seq})
        first = await tick_where(r, lambda t: "acks" in t)
        second = await r.next("tick")
        third = await r.next("tick")
        assert first["acks"] == [[red.pk, 1]]
        assert second["acks"] == [[red.pk, 2]]
        assert "acks" not in third


def position(ws: Socket, check: Callable[[dict[str, Any]], bool]) -> int:
    """Where the first frame ``check`` wants came, in the order the socket received them."""
    return next(i for i, frame in enumerate(ws.seen) if check(frame))


async def reply_to(ws: Socket, ref: str, timeout: float = 5.0) -> dict[str, Any]:
    """The reply (``ack`` or ``error``) to the frame sent with ``ref``."""
    deadline = time.monotonic() + timeout
    while True:
        for i, frame in enumerate(ws.unread):
            if frame["type"] in ("ack", "error") and frame.get("ref") == ref:
                return ws.unread.pop(i)
        received = await ws._receive(deadline - time.monotonic())
        if received is None:
            raise AssertionError(f"no reply to {ref!r} within {timeout}s; saw {ws.seen}")
        ws.seen.append(received)
        ws.unread.append(received)


async def test_a_turn_with_a_ref_is_acked_once_a_tick_has_applied_it(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """The ack of a turn means it was applied: it comes after the tick whose ``acks``
    name it. A turn the owner does not take (a third in one tick) is answered
    ``not_applied``."""
    arena_settings.ARENA_TICKS_PER_SECOND = 2.0
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        await r.next("tick")  # just after a tick: the next is half a second away
        for seq, direction in enumerate(["up", "left", "down"], start=1):
            await r.send({"type": "turn", "dir": direction, "seq": seq, "ref": f"t{seq}"})
        replies = {ref: await reply_to(r, ref) for ref in ("t1", "t2", "t3")}
        assert [replies[ref]["type"] for ref in ("t1", "t2")] == ["ack", "ack"]
        assert (replies["t3"]["type"], replies["t3"]["code"]) == ("error", "not_applied")
        for seq in (1, 2):
            applied = position(r, lambda f, s=seq: [red.pk, s] in f.get("acks", []))
            acked = position(r, lambda f, s=seq: f.get("ref") == f"t{s}")
            assert applied < acked
        assert not any([red.pk, 3] in f.get("acks", []) for f in r.seen)


async def test_a_turn_whose_outcome_the_socket_missed_is_answered_from_the_record(
    make_user: Callable[..., Any], arena_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once no tick can apply a turn any more (the window past), the socket answers
    from what the ticks recorded: ``ack`` for one applied whose tick did not name it
    (as when the owner died before its tick reached the socket), ``not_applied`` for
    one the owner never got (as when it went to an owner that died)."""
    arena_settings.ARENA_TURN_WINDOW_TICKS = 3
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        owner = arena_host.get_host().owners[arena.pk]
        queue = owner.queue

        def unnamed(*args: Any, applied: list[str] | None = None) -> None:
            queue(*args)  # the ticks do not say which tagged turns they applied

        monkeypatch.setattr(owner, "queue", unnamed)
        await r.send({"type": "turn", "dir": "up", "seq": 1, "ref": "applied"})
        assert (await reply_to(r, "applied"))["type"] == "ack"
        applied = position(r, lambda f: [red.pk, 1] in f.get("acks", []))
        assert applied < position(r, lambda f: f.get("ref") == "applied")

        on_input = owner.on_input

        def lost(event: dict[str, Any]) -> None:
            if event.get("kind") != "turn":
                on_input(event)

        monkeypatch.setattr(owner, "on_input", lost)
        await r.send({"type": "turn", "dir": "left", "seq": 2, "ref": "lost"})
        reply = await reply_to(r, "lost")
        assert (reply["type"], reply["code"]) == ("error", "not_applied")
        assert not any([red.pk, 2] in f.get("acks", []) for f in r.seen)


async def test_a_turn_between_rounds_is_refused(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    arena_settings.ARENA_ROUND_SECONDS = 1.0
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await r.next("round_over", timeout=5)
        await r.send({"type": "turn", "dir": "up", "seq": 1, "ref": "late"})
        reply = await reply_to(r, "late")
        assert (reply["code"], reply["message"]) == (
            "not_applied",
            "No round is being played right now.",
        )


async def test_steering_at_a_fast_human_rate_is_allowed_and_a_flood_is_limited(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        # Ten turns a second for two seconds: every one accepted.
        for seq in range(20):
            await r.send({"type": "turn", "dir": "up" if seq % 2 else "left", "seq": seq})
            await asyncio.sleep(0.1)
        await r.nothing("error", within=0.3)
        # A flood: the limit answers (the socket stays usable).
        for seq in range(20, 120):
            await r.send({"type": "turn", "dir": "up", "seq": seq, "ref": str(seq)})
        # (The turns let through past two a tick are answered not_applied meanwhile.)
        codes = {(await r.next("error"))["code"] for _ in range(60)}
        assert codes <= {"rate_limited", "not_applied"}
        assert "rate_limited" in codes
        await asyncio.sleep(1)
        await r.usable()


async def test_a_round_ends_with_results_stored_and_a_new_round_begins(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    arena_settings.ARENA_ROUND_SECONDS = 1.5
    arena_settings.ARENA_RESULTS_SECONDS = 1.0
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play" and w["round"] == 1)
        over = await r.next("round_over", timeout=5)
        assert over["round"] == 1
        assert [row["username"] for row in over["results"]] == ["red"]
        world = await world_where(r, lambda w: w["phase"] == "play")
        assert world["round"] == 2
    result = await database_sync_to_async(ArenaResult.objects.select_related("round").get)()
    assert (result.user_id, result.round.number) == (red.pk, 1)
    assert result.round.ended_at is not None
    assert result.length == over["results"][0]["length"]


def test_results_give_a_crashed_snake_the_length_it_had() -> None:
    # A round that ends while a snake is out (it crashed, and is not back yet) records
    # the length it had, not 0.
    state = snake.State(
        config=snake.Config(),
        snakes=(
            snake.Snake(player=1, body=((5, 5), (4, 5), (3, 5)), alive=True, score=2),
            snake.Snake(player=2, body=(), alive=False, deaths=1, last_length=7, score=4),
        ),
    )
    meta = Meta(names={1: "red", 2: "yellow"})
    rows = results_of(meta, state)
    assert [(row["username"], row["length"]) for row in rows] == [("yellow", 7), ("red", 3)]


async def test_a_round_its_last_player_left_stores_everyone_who_played_in_it(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """A round that ends because its last player left has results like any other: those
    who left during it are in them, with what they had when they left, and the
    leaderboard counts them."""
    red, red_cookie = await user_with_cookie(make_user, "red")
    yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    arena = await new_arena(red)
    async with (
        open_socket(path(arena)) as watcher,
        open_socket(path(arena), cookie=red_cookie) as r,
        open_socket(path(arena), cookie=yellow_cookie) as y,
    ):
        await watcher.next("sync")
        await r.send({"type": "join"})
        await world_where(watcher, lambda w: w["phase"] == "play")
        await y.send({"type": "join"})
        await tick_where(
            watcher, lambda t: any(s["player"] == yellow.pk for s in t.get("spawned", []))
        )
        # Yellow steers into the top wall, then leaves, dead once.
        await y.send({"type": "turn", "dir": "up", "seq": 1})
        await tick_where(watcher, lambda t: [yellow.pk, 0] in t.get("died", []), timeout=10)
        await y.send({"type": "leave"})
        await tick_where(watcher, lambda t: "left" in t)
        await r.send({"type": "leave"})
        over = await watcher.next("round_over")
    tallies = {}  # [score, kills, deaths] per player, as the ticks said
    for frame in watcher.seen:
        for player, *tally in frame.get("scores", []):
            tallies[player] = tally
    rows = {row["player"]: row for row in over["results"]}
    assert set(rows) == {red.pk, yellow.pk}
    # Dead at least once (on a slow machine it may come back and hit the wall again
    # before its leave arrives).
    assert rows[yellow.pk]["deaths"] >= 1
    for player, row in rows.items():
        assert [row["score"], row["kills"], row["deaths"]] == tallies.get(player, [0, 0, 0])
    stored = await database_sync_to_async(
        lambda: {r.user_id: (r.score, r.kills, r.deaths) for r in ArenaResult.objects.all()}
    )()
    assert stored == {p: (row["score"], row["kills"], row["deaths"]) for p, row in rows.items()}
    board = await database_sync_to_async(selectors.arena_leaderboard)()
    assert {row["username"] for row in board} == {"red", "yellow"}


async def test_a_reload_resumes_mid_round_as_the_same_player(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        before = await r.next("tick")
    async with open_socket(path(arena), cookie=red_cookie) as again:
        world = (await again.next("sync"))["world"]
        assert world["phase"] == "play"
        assert world["tick"] >= before["t"]
        assert [p["id"] for p in world["players"]] == [red.pk]
        tick = await again.next("tick")
        assert tick["t"] == world["tick"] + 1  # ticks go on from the world it was given
        await again.send({"type": "turn", "dir": "up", "seq": 1})
        await tick_where(again, lambda t: [red.pk, 1] in t.get("acks", []))


async def test_a_player_who_stays_away_is_removed(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    arena_settings.ARENA_AWAY_SECONDS = 0.5
    red, red_cookie = await user_with_cookie(make_user, "red")
    _yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=yellow_cookie) as y:
        async with open_socket(path(arena), cookie=red_cookie) as r:
            await r.send({"type": "join"})
            await world_where(y, lambda w: w["phase"] == "play")
        left = await tick_where(y, lambda t: "left" in t, timeout=5)
        assert left["left"] == [{"id": red.pk, "username": "red"}]


async def test_an_empty_arena_closes_and_leaves_the_lobby(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    arena_settings.ARENA_EMPTY_CLOSE_SECONDS = 0.5
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(LOBBY) as lobby:
        assert [a["id"] for a in (await lobby.next("sync"))["arenas"]] == [arena.pk]
        async with open_socket(path(arena), cookie=red_cookie) as r:
            await r.next("sync")
            await r.next("world")  # an owner took it
        assert (await lobby.next("arena.removed", timeout=5))["id"] == arena.pk
    await arena.arefresh_from_db()
    assert arena.status == Arena.State.CLOSED
    assert arena.closed_at is not None


async def test_the_lobby_lists_arenas_live_and_quick_play_picks_the_fullest(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    _red, red_cookie = await user_with_cookie(make_user, "red")
    _yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    blue, _blue_cookie = await user_with_cookie(make_user, "blue")
    async with (
        open_socket(LOBBY) as lobby,
        open_socket(LOBBY, cookie=red_cookie) as r_lobby,
        open_socket(LOBBY, cookie=yellow_cookie) as y_lobby,
    ):
        await lobby.next("sync")
        await r_lobby.send({"type": "arena_quick_play"})
        first = (await r_lobby.next("arena.joined"))["arena"]
        assert (await lobby.next("arena"))["arena"]["id"] == first["id"]
        empty = await new_arena(blue)  # another arena, with nobody in it
        arena = await database_sync_to_async(Arena.objects.get)(pk=first["id"])
        async with open_socket(path(arena), cookie=red_cookie) as r:
            await r.send({"type": "join"})
            listed = await lobby.next("arena")
            while listed["arena"]["id"] != arena.pk or listed["arena"]["players"] != 1:
                listed = await lobby.next("arena")
            # Quick play goes where the others are, not to the empty arena.
            await y_lobby.send({"type": "arena_quick_play"})
            assert (await y_lobby.next("arena.joined"))["arena"]["id"] == arena.pk != empty.pk
            async with open_socket(path(arena)) as watcher:
                await watcher.next("sync")
                listed = await lobby.next("arena")
                while listed["arena"]["spectators"] != 1:
                    listed = await lobby.next("arena")
                assert listed["arena"]["players"] == 1


async def test_a_private_arena_is_joined_by_its_invite_link_only(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    _red, red_cookie = await user_with_cookie(make_user, "red")
    _yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    async with open_socket(LOBBY, cookie=red_cookie) as r_lobby:
        await r_lobby.send({"type": "arena_create", "private": True})
        joined = await r_lobby.next("arena.joined")
    arena = await database_sync_to_async(Arena.objects.get)(pk=joined["arena"]["id"])
    assert joined["invite_url"] == arena.invite_url()
    with pytest.raises(AssertionError, match="closed with 4403"):
        async with open_socket(path(arena), cookie=yellow_cookie) as y:
            await y.next("sync")
    async with open_socket(path(arena, arena.invite_code), cookie=yellow_cookie) as y:
        assert (await y.next("sync"))["arena"]["private"] is True
    async with open_socket(path(arena), cookie=red_cookie) as r:  # its creator
        await r.next("sync")


async def test_staff_end_a_round_and_remove_a_player_live(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    red, red_cookie = await user_with_cookie(make_user, "red")
    yellow, yellow_cookie = await user_with_cookie(make_user, "yellow")
    arena = await new_arena(red)
    async with (
        open_socket(path(arena), cookie=red_cookie) as r,
        open_socket(path(arena), cookie=yellow_cookie) as y,
    ):
        await r.send({"type": "join"})
        await y.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        await tick_where(r, lambda t: "joined" in t or True)
        removed = await database_sync_to_async(services.arena_remove_player)(
            arena_id=arena.pk, user_id=yellow.pk
        )
        assert removed
        left = (await tick_where(r, lambda t: "left" in t))["left"]
        assert left == [{"id": yellow.pk, "username": "yellow"}]
        await y.send({"type": "turn", "dir": "up", "seq": 9, "ref": "gone"})
        assert (await y.next("error"))["code"] == "forbidden"
        ended = await database_sync_to_async(services.arena_end_round)(arenas=[arena])
        assert ended == 1
        over = await r.next("round_over")
        # Yellow played until removed: in the results too.
        assert sorted(row["username"] for row in over["results"]) == ["red", "yellow"]
    stored = await database_sync_to_async(
        lambda: sorted(ArenaResult.objects.values_list("round__ended_by_staff", "user_id"))
    )()
    assert stored == [(True, red.pk), (True, yellow.pk)]


async def test_a_socket_that_stops_reading_is_dropped(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    arena_settings.ARENA_MAX_UNREAD_TICKS = 5
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with (
        open_socket(path(arena), cookie=red_cookie) as reader,
        open_socket(path(arena)) as idle,
    ):
        await reader.send({"type": "join"})
        await world_where(reader, lambda w: w["phase"] == "play")
        for _ in range(15):
            tick = await reader.next("tick")
            await reader.send({"type": "seen", "tick": tick["t"]})
        with pytest.raises(AssertionError, match="closed with 4500"):
            await drain(idle)
        await reader.usable()


async def test_a_client_that_never_sends_seen_is_told_why_it_is_closed(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """A client written without ``seen`` is closed once ARENA_MAX_UNREAD_TICKS ticks
    have gone unread, as docs/protocol.md says: a ``closing`` frame with reason
    ``behind`` first, then 4500 (retried: it starts again from the whole world)."""
    arena_settings.ARENA_MAX_UNREAD_TICKS = 5
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with (
        open_socket(path(arena), cookie=red_cookie) as player,
        open_socket(path(arena)) as silent,
    ):
        await player.send({"type": "join"})
        await world_where(silent, lambda w: w["phase"] == "play")
        with pytest.raises(AssertionError, match="closed with 4500"):
            await drain(silent)
        ticks = [f["t"] for f in silent.seen if f["type"] == "tick"]
        assert len(ticks) == 5  # the ticks it may leave unread, and no more
        assert silent.unread[-1] == {"type": "closing", "reason": "behind"}


async def test_the_owner_reports_itself_for_the_admin(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.send({"type": "join"})
        await world_where(r, lambda w: w["phase"] == "play")
        await until_reported(arena.pk, lambda info: info["players"] == 1)
        info = (await arena_store.read_info([arena.pk]))[arena.pk]
    assert info["players"] == 1
    assert info["owner"] == arena_store.PROCESS
    assert info["phase"] == "play"
    assert info["lag_ms"] >= 0


async def test_a_user_has_one_public_arena_and_a_few_open_at_most(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """Opening a public arena again gives back the one the user has (as Connect Four
    does); past ARENA_MAX_OPEN_PER_USER the lobby says no, and the socket goes on."""
    arena_settings.ARENA_MAX_OPEN_PER_USER = 2
    red, red_cookie = await user_with_cookie(make_user, "red")
    async with open_socket(LOBBY) as lobby, open_socket(LOBBY, cookie=red_cookie) as r_lobby:
        await lobby.next("sync")
        await r_lobby.next("sync")
        opened = []
        for _ in range(3):
            await r_lobby.send({"type": "arena_create"})
            opened.append((await r_lobby.next("arena.joined"))["arena"]["id"])
        assert len(set(opened)) == 1
        assert (await lobby.next("arena"))["arena"]["id"] == opened[0]
        await lobby.nothing("arena")
        await r_lobby.send({"type": "arena_create", "private": True})
        await r_lobby.next("arena.joined")
        await r_lobby.send({"type": "arena_create", "private": True, "ref": "third"})
        error = await r_lobby.next("error")
        assert (error["code"], error["ref"]) == ("forbidden", "third")
        assert "2 arenas open" in error["message"]
        await r_lobby.usable()
    open_arenas = await database_sync_to_async(
        Arena.objects.filter(created_by=red, status=Arena.State.OPEN).count
    )()
    assert open_arenas == 2


async def test_arenas_opened_and_never_run_do_not_hold_the_users_places(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """An arena nobody has been on since ARENA_EMPTY_CLOSE_SECONDS (opened and never
    visited) is empty: it is closed when its user opens another at the cap."""
    arena_settings.ARENA_MAX_OPEN_PER_USER = 1
    arena_settings.ARENA_EMPTY_CLOSE_SECONDS = 60
    red, _ = await user_with_cookie(make_user, "red")
    old = await new_arena(red, private=True)
    with pytest.raises(ActionError):
        await new_arena(red, private=True)
    await database_sync_to_async(
        lambda: Arena.objects.filter(pk=old.pk).update(
            created_at=timezone.now() - timedelta(seconds=61)
        )
    )()
    new = await new_arena(red, private=True)
    await old.arefresh_from_db()
    assert old.status == Arena.State.CLOSED
    assert new.status == Arena.State.OPEN


async def test_joining_a_second_arena_leaves_the_first(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """A player has one seat: joining arena B takes them out of arena A (told to A's
    players as a leave), and A's page does not join them again by itself when A next
    changes phase (which would bounce the seat between the two)."""
    arena_settings.ARENA_RESULTS_SECONDS = 1.0
    red, red_cookie = await user_with_cookie(make_user, "red")
    yellow, _ = await user_with_cookie(make_user, "yellow")
    first, second = await new_arena(red), await new_arena(yellow)
    async with (
        open_socket(path(first)) as watcher,
        open_socket(path(first), cookie=red_cookie) as in_first,
        open_socket(path(second), cookie=red_cookie) as in_second,
    ):
        await watcher.next("sync")
        await in_first.send({"type": "join"})
        await world_where(watcher, lambda w: [p["id"] for p in w["players"]] == [red.pk])
        await in_second.send({"type": "join"})
        await world_where(in_second, lambda w: [p["id"] for p in w["players"]] == [red.pk])
        left = await tick_where(watcher, lambda t: "left" in t, timeout=5)
        assert left["left"] == [{"id": red.pk, "username": "red"}]
        # The first arena, empty now, ends its round and waits again...
        await world_where(in_first, lambda w: w["phase"] == "waiting")
        await in_first.nothing("error", within=0.1)
        # ...and red is still (only) in the second.
        with pytest.raises(AssertionError):
            await tick_where(in_second, lambda t: "left" in t, timeout=1.5)
        stored = await arena_store.read_world(first.pk)
        assert stored is not None
        assert red.pk not in stored[0].names


async def test_a_seen_from_the_future_counts_as_the_newest_tick_sent(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """A socket cannot claim to have read ticks it was never sent: a ``seen`` from the
    future counts as the newest tick sent, so one that then stops reading is dropped."""
    arena_settings.ARENA_MAX_UNREAD_TICKS = 5
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with (
        open_socket(path(arena), cookie=red_cookie) as reader,
        open_socket(path(arena)) as liar,
    ):
        await reader.send({"type": "join"})
        await world_where(liar, lambda w: w["phase"] == "play")
        await liar.send({"type": "seen", "tick": 2**63 - 1})
        await liar.nothing("error", within=0.1)
        for _ in range(15):
            tick = await reader.next("tick")
            await reader.send({"type": "seen", "tick": tick["t"]})
        with pytest.raises(AssertionError, match="closed with 4500"):
            await drain(liar)


class LogLines(logging.Handler):
    """The records of one logger (Django's logging setup replaces pytest's own handler
    when the ASGI application is first imported)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogLines:
        self.level_before = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)


async def test_a_resync_of_a_socket_that_has_closed_is_not_a_warning(
    make_user: Callable[..., Any], arena_settings: Any
) -> None:
    """A client that leaves while its socket is being resynced is not a server problem:
    one debug line, no warning and no traceback."""
    red, red_cookie = await user_with_cookie(make_user, "red")
    arena = await new_arena(red)
    async with open_socket(path(arena), cookie=red_cookie) as r:
        await r.next("sync")
        [consumer] = get_hub().members[protocol.arena_group(arena.pk)]

        async def closed(*args: Any, **kwargs: Any) -> None:
            # What daphne's autobahn raises on a send to a socket its client closed.
            raise Disconnected("Attempt to send on a closed protocol")

        consumer.send = closed
        with LogLines("game.consumers") as log:
            consumer._resync_soon()
            await consumer.resyncing
    assert [record.levelno for record in log.records] == [logging.DEBUG]
    assert log.records[0].exc_info is None
    assert "has closed" in log.records[0].getMessage()
