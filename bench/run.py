"""make bench: every scenario against ours and both peers, in one run, on this machine.

    python -m bench.run                         # everything (several minutes)
    python -m bench.run --scenario fanout       # one scenario (repeatable)
    python -m bench.run --stacks ours,tornado   # a subset of stacks
    python -m bench.run --tiny                  # 5 sockets, 5 messages: does it work?

Prints a table and writes bench/results/<timestamp>.json (and latest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import arena_load, game_load, load, private, reconnect, report
from bench.stacks import (
    Ours,
    OursNotifications,
    OursReading,
    OursUpdates,
    Stack,
    Tornado,
    make,
    stop_embedded_redis,
)

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Sizes:
    fanout: list[tuple[int, int]]  # (subscribers, messages/s)
    fanout_seconds: float
    sustain_subscribers: int
    sustain_rates: list[int]
    sustain_seconds: float
    rt_rooms: int
    rt_users: int
    rt_rates: list[int]
    rt_seconds: float
    idle_sockets: int
    idle_seconds: float
    storm_sockets: int
    scale_subscribers: int
    scale_rate: int
    scale_seconds: float
    notify_users: int
    notify_rate: float
    notify_count: int
    cost_accounts: int
    cost_repeats: int
    games: list[tuple[int, float]]  # (concurrent games, moves/s per game)
    game_seconds: float
    chat_members: int = 1000
    updates_rate: float = 20
    reading_rate: float = 5
    updates_seconds: float = 10
    chat_rooms_open: int = 20
    search_messages: int = 1_000_000
    # Seconds between a process's writes of read cursors (0: each at once); one server each.
    reading_batches: tuple[float, ...] = (1.0, 0.25, 0.0)
    # Snake arenas: how many, players and spectators in each, seconds measured; then arena
    # counts tried (two players each) until one process's p99 tick passes 1.5x its target.
    arenas: int = 50
    arena_players: int = 8
    arena_spectators: int = 4
    arena_seconds: float = 10
    arena_capacity: tuple[int, ...] = (50, 100, 150, 200, 300, 400)
    # Reconnect storm: sockets on the process that is killed, in rooms of this many, and
    # posts per second (on the survivor) throughout.
    reconnect_sockets: int = 5000
    reconnect_per_room: int = 100
    reconnect_rate: float = 10
    # Private rooms: members of one (posting at this rate), and one user's direct
    # conversations listed.
    private_rate: float = 5
    direct_conversations: int = 200
    # Two processes against one (make serve): stored round trips at these rates.
    serve_rates: tuple[int, ...] = (100, 150, 200, 300)
    serve_seconds: float = 6


FULL = Sizes(
    fanout=[(20, 10), (1000, 5), (1000, 20), (200, 50)],
    fanout_seconds=10,
    sustain_subscribers=1000,
    sustain_rates=[20, 40, 80, 160, 320],
    sustain_seconds=6,
    rt_rooms=50,
    rt_users=20,
    rt_rates=[100, 200, 300, 500],
    rt_seconds=10,
    idle_sockets=2000,
    idle_seconds=10,
    storm_sockets=1000,
    scale_subscribers=1000,
    scale_rate=100,
    scale_seconds=6,
    notify_users=1000,
    notify_rate=2,
    notify_count=10,
    cost_accounts=10_000,
    cost_repeats=5,
    games=[(25, 2), (50, 2), (100, 2), (150, 2), (200, 2), (300, 2)],
    game_seconds=10,
)
TINY = Sizes(
    fanout=[(5, 5)],
    fanout_seconds=1,
    sustain_subscribers=5,
    sustain_rates=[5],
    sustain_seconds=1,
    rt_rooms=2,
    rt_users=3,
    rt_rates=[5],
    rt_seconds=1,
    idle_sockets=5,
    idle_seconds=1,
    storm_sockets=5,
    scale_subscribers=6,
    scale_rate=5,
    scale_seconds=1,
    notify_users=5,
    notify_rate=5,
    notify_count=3,
    cost_accounts=20,
    cost_repeats=2,
    games=[(2, 5)],
    game_seconds=1,
    chat_members=20,
    updates_rate=5,
    reading_rate=5,
    updates_seconds=1,
    chat_rooms_open=3,
    search_messages=2000,
    reading_batches=(0.25,),
    arenas=2,
    arena_players=2,
    arena_spectators=2,  # one on each process, for the failover
    arena_seconds=2,
    arena_capacity=(2,),
    reconnect_sockets=10,
    reconnect_per_room=5,
    reconnect_rate=5,
    direct_conversations=5,
    serve_rates=(5, 10),
    serve_seconds=1,
)

Row = dict[str, Any]


async def _with_server(
    stack: Stack, processes: int, body: Callable[[], Coroutine[Any, Any, Row]]
) -> Row:
    stack.start(processes)
    try:
        return await body()
    finally:
        stack.stop()


async def fanout_once(
    stack: Stack,
    subscribers: int,
    rate: float,
    seconds: float,
    processes: int = 1,
    *,
    per_message: bool = False,
    room: str = "bench-fanout",
    then: Callable[[], object] | None = None,
) -> Row:
    """Messages from the first socket to ``subscribers`` sockets in one room. ``then``
    runs after the room and its users are made (a stack's own set-up)."""
    headers = await asyncio.to_thread(stack.prepare, subscribers, [room])
    if then is not None:
        await asyncio.to_thread(then)

    async def body() -> Row:
        plan = [(room, stack.ports[i % len(stack.ports)]) for i in range(subscribers)]
        clients, connect_s, failures = await load.connect_all(stack, plan, headers)
        await asyncio.sleep(1)
        measure, usage, sent_s, _prefix = await load.drive(
            stack,
            clients,
            clients[:1],
            rate=rate,
            messages=max(1, int(rate * seconds)),
            members={room: len(clients)},
        )
        await load.close_all(clients)
        return {
            **load.summarize(measure, sent_s, per_message=per_message),
            **usage,
            "connect_s": round(connect_s, 2),
            "connect_failures": failures,
        }

    return await _with_server(stack, processes, body)


async def scenario_fanout(stack: Stack, sizes: Sizes) -> list[Row]:
    rows = []
    for subscribers, rate in sizes.fanout:
        row = await fanout_once(stack, subscribers, rate, sizes.fanout_seconds)
        # Server CPU per message sent (ours: stored, then delivered to every subscriber).
        sent = max(1, int(rate * sizes.fanout_seconds))
        row["cpu_ms_per_message"] = round(1000 * row.get("server_cpu_s", 0) / sent, 2)
        rows.append({"scenario": "fanout", "variant": f"{subscribers} subs @ {rate}/s", **row})
    return rows


async def scenario_sustain(stack: Stack, sizes: Sizes) -> list[Row]:
    """Step the rate up until p99 passes 250 ms or anything is lost."""
    best = 0
    steps = []
    for rate in sizes.sustain_rates:
        row = await fanout_once(stack, sizes.sustain_subscribers, rate, sizes.sustain_seconds)
        ok = row["delivered"] == row["expected"] and (row["p99_ms"] or 0) <= 250
        steps.append({"rate": rate, "p99_ms": row["p99_ms"], "delivered_pct": row["delivered_pct"]})
        if not ok:
            break
        best = rate
    return [
        {
            "scenario": "sustain",
            "variant": f"{sizes.sustain_subscribers} subs, max rate",
            "max_rate_per_s": best,
            "max_deliveries_per_s": best * sizes.sustain_subscribers,
            "steps": steps,
        }
    ]


async def scenario_roundtrip(stack: Stack, sizes: Sizes) -> list[Row]:
    return await roundtrip_rows(stack, sizes, sizes.rt_rates, 1)


async def roundtrip_rows(
    stack: Stack, sizes: Sizes, rates: list[int], processes: int, seconds: float | None = None
) -> list[Row]:
    """Every member of many small rooms posts; each message stored (ours) and delivered to
    its room, sockets spread over ``processes`` processes; one row per rate, then the
    highest rate held."""
    rooms = [f"bench-rt-{i}" for i in range(sizes.rt_rooms)]
    users = sizes.rt_rooms * sizes.rt_users
    headers = await asyncio.to_thread(stack.prepare, users, rooms)
    seconds = seconds or sizes.rt_seconds
    suffix = f", {processes} proc" if processes > 1 else ""
    rows = []
    for rate in rates:

        async def body(rate: int = rate) -> Row:
            ports = stack.ports
            plan = [(rooms[i // sizes.rt_users], ports[i % len(ports)]) for i in range(users)]
            clients, _connect_s, failures = await load.connect_all(stack, plan, headers)
            members: dict[str, int] = {}
            for client in clients:
                members[client.room] = members.get(client.room, 0) + 1
            await asyncio.sleep(1)
            measure, usage, sent_s, prefix = await load.drive(
                stack,
                clients,
                clients,
                rate=rate,
                messages=int(rate * seconds),
                members=members,
            )
            await load.close_all(clients)
            row = {**load.summarize(measure, sent_s, per_message=True), **usage}
            row["connect_failures"] = failures
            # Server CPU per message sent (stored and delivered to its room, for ours).
            sent = max(1, len(measure.sent_at))
            row["cpu_ms_per_message"] = round(1000 * usage["server_cpu_s"] / sent, 2)
            if isinstance(stack, Ours):
                stored = await asyncio.to_thread(stack.stored, prefix)
                row["stored"] = len(stored)
                row["stored_duplicates"] = len(stored) - len(set(stored))
                row["sent"] = len(measure.sent_at)
            return row

        row = await _with_server(stack, processes, body)
        label = f"{sizes.rt_rooms} rooms x {sizes.rt_users} users @ {rate}/s{suffix}"
        rows.append({"scenario": "roundtrip", "variant": label, **row})
    # The highest rate tried at which every message was delivered live, p99 < 100 ms.
    held = [
        rate
        for rate, row in zip(rates, rows, strict=True)
        if row["delivered"] == row["expected"] and (row["p99_ms"] or 1e9) < 100
    ]
    rows.append(
        {
            "scenario": "roundtrip",
            "variant": f"highest rate live with p99 < 100 ms{suffix}",
            "max_rate_per_s": max(held, default=0),
        }
    )
    return rows


async def scenario_serve(stack: Stack, sizes: Sizes) -> list[Row]:
    """What a second process adds (``make serve`` on two cores): the stored round trip's
    highest rate held and its deliveries per second at the top rate, on one process and
    on two. (The storm's two-process row: scenario_storm.) The load client shares the
    cores."""
    if not isinstance(stack, Ours):
        return []  # the seed's Tornado broadcaster is one process only
    one = await roundtrip_rows(stack, sizes, list(sizes.serve_rates), 1, sizes.serve_seconds)
    two = await roundtrip_rows(stack, sizes, list(sizes.serve_rates), 2, sizes.serve_seconds)
    rows = [{**row, "scenario": "serve"} for row in one + two]
    held_one, held_two = one[-1]["max_rate_per_s"], two[-1]["max_rate_per_s"]
    top_one, top_two = one[-2]["deliveries_per_s"], two[-2]["deliveries_per_s"]
    rows.append(
        {
            "scenario": "serve",
            "variant": "2 proc / 1 proc",
            "max_rate_per_s": round(held_two / held_one, 2) if held_one else None,
            "deliveries_per_s": round(top_two / top_one, 2) if top_one else None,
        }
    )
    return rows


async def scenario_idle(stack: Stack, sizes: Sizes) -> list[Row]:
    room = "bench-idle"
    headers = await asyncio.to_thread(stack.prepare, sizes.idle_sockets, [room])

    async def body() -> Row:
        resources = load.Resources(stack.pids())
        warm, _, _ = await load.connect_all(stack, [(room, stack.ports[0])], headers)
        await asyncio.sleep(1)
        before = resources.rss()
        plan = [(room, stack.ports[0])] * sizes.idle_sockets
        clients, _connect_s, failures = await load.connect_all(stack, plan, headers)
        await asyncio.sleep(3)
        after = resources.rss()
        resources.start()
        await asyncio.sleep(sizes.idle_seconds)
        usage = resources.stop()
        await load.close_all(clients + warm)
        return {
            "sockets": len(clients),
            "connect_failures": failures,
            "kb_per_socket": round((after - before) / max(1, len(clients)) / 1024, 1),
            "idle_cpu_pct": usage["server_cpu_pct"],
            "server_rss_mb": round(after / 2**20, 1),
        }

    row = await _with_server(stack, 1, body)
    return [{"scenario": "idle", "variant": f"{sizes.idle_sockets} idle sockets", **row}]


STORM_ROUNDS = 3  # each storm variant: the median of this many, on one server


async def storm_once(
    stack: Stack,
    sockets: int,
    headers: list[dict[str, str]],
    processes: int = 1,
    *,
    forget: Callable[[], object] | None = None,
) -> Row:
    """``sockets`` sockets opened at once (no client-side limit), spread over the
    server's processes, STORM_ROUNDS times on one server (warmed by one socket first);
    ``forget`` runs before each round (ours: the cached sessions and users dropped)."""
    room = "bench-storm"

    async def body() -> Row:
        warm, _, _ = await load.connect_all(stack, [(room, stack.ports[0])], headers[:1])
        await load.close_all(warm)
        resources = load.Resources(stack.pids())
        times, joined, failures, cpu = [], [], 0, []
        for _ in range(STORM_ROUNDS):
            if forget is not None:
                await asyncio.to_thread(forget)
            await asyncio.sleep(1)
            plan = [(room, stack.ports[i % len(stack.ports)]) for i in range(sockets)]
            resources.start()
            clients, seconds, failed = await load.connect_all(
                stack, plan, headers, concurrency=None
            )
            cpu.append(resources.stop()["server_cpu_s"])
            await load.close_all(clients)
            times.append(seconds)
            joined.append(len(clients))
            failures += failed
        return {
            "joined": min(joined),
            "failures": failures,
            # Milliseconds: a tiny run's Tornado joins in under 10 ms, and a figure
            # rounded to 0 has no ratio.
            "all_joined_s": round(sorted(times)[len(times) // 2], 3),
            "rounds_s": [round(t, 3) for t in times],
            # Server CPU (every process) until the last joined, per socket: steadier than
            # the wall clock when the machine's speed wanders. The median round, as for
            # the time (a first round can be twice the others); the kernel counts CPU in
            # 10 ms ticks, so a tiny run's may read 0.
            "cpu_ms_per_connect": round(1000 * sorted(cpu)[len(cpu) // 2] / max(1, sockets), 2),
        }

    return await _with_server(stack, processes, body)


async def scenario_storm(stack: Stack, sizes: Sizes) -> list[Row]:
    """A connect storm: logged in with the sessions and users cached, the same with the
    cache cold (a Redis restart, a new deploy), and visitors; ours also on two processes
    (as ``make serve`` runs on two cores). The peers have no login: visitors only."""
    count = sizes.storm_sockets
    anonymous = [{} for _ in range(count)]
    if not isinstance(stack, Ours):
        row = await storm_once(stack, count, anonymous)
        return [{"scenario": "storm", "variant": f"{count} visitors at once", **row}]
    headers = await asyncio.to_thread(stack.prepare, count, ["bench-storm"])
    await asyncio.to_thread(stack.cache_logins, headers)
    rows = [
        ("logged in at once, cached", await storm_once(stack, count, headers)),
        (
            "logged in at once, cache cold",
            await storm_once(stack, count, headers, forget=lambda: stack.forget_logins(headers)),
        ),
        ("visitors at once", await storm_once(stack, count, anonymous)),
        ("logged in at once, cached, 2 proc", await storm_once(stack, count, headers, 2)),
    ]
    one, two = rows[0][1], rows[3][1]
    if two["all_joined_s"]:
        two["speedup_vs_1_proc"] = round(one["all_joined_s"] / two["all_joined_s"], 2)
    return [{"scenario": "storm", "variant": f"{count} {label}", **row} for label, row in rows]


async def scenario_scaleout(stack: Stack, sizes: Sizes) -> list[Row]:
    rows = []
    one = await fanout_once(
        stack, sizes.scale_subscribers, sizes.scale_rate, sizes.scale_seconds, 1
    )
    two = await fanout_once(
        stack, sizes.scale_subscribers, sizes.scale_rate, sizes.scale_seconds, 2
    )
    for processes, row in ((1, one), (2, two)):
        rows.append(
            {
                "scenario": "scaleout",
                "variant": (
                    f"{sizes.scale_subscribers} subs @ {sizes.scale_rate}/s, {processes} proc"
                ),
                **row,
            }
        )
    ratio = two["deliveries_per_s"] / one["deliveries_per_s"] if one["deliveries_per_s"] else 0
    rows[-1]["speedup_vs_1_proc"] = round(ratio, 2)
    return rows


async def scenario_notify(stack: Stack, sizes: Sizes) -> list[Row]:
    """A notification to all of N connected users (ours: stored, committed, published),
    beside the same fan-out as chat messages in one room, on every stack."""
    users, rate, count = sizes.notify_users, sizes.notify_rate, sizes.notify_count
    rows = []
    if isinstance(stack, Ours):
        notifier = OursNotifications()
        headers = await asyncio.to_thread(notifier.prepare, users, [])

        async def send(_publisher: load.Client, tag: str) -> None:
            await asyncio.to_thread(notifier.send_to_all, tag)

        async def body() -> Row:
            plan = [("inbox", notifier.ports[0])] * users
            clients, connect_s, failures = await load.connect_all(notifier, plan, headers)
            await asyncio.sleep(1)
            measure, usage, sent_s, _prefix = await load.drive(
                notifier,
                clients,
                clients[:1],
                rate=rate,
                messages=count,
                members={"inbox": len(clients)},
                send=send,
            )
            await load.close_all(clients)
            return {
                **load.summarize(measure, sent_s, per_message=True),
                **usage,
                "connect_s": round(connect_s, 2),
                "connect_failures": failures,
            }

        row = await _with_server(notifier, 1, body)
        rows.append({"scenario": "notify", "variant": f"notification to all {users}", **row})
    chat = await fanout_once(stack, users, rate, count / rate, per_message=True)
    rows.append({"scenario": "notify", "variant": f"chat message to {users}", **chat})
    return rows


async def scenario_reading(stack: Stack, sizes: Sizes) -> list[Row]:
    """Messages to a room of N members who all read along (each reports what it has read,
    as a visible page does): what the read cursors cost the room, with each process's
    reads written every 1 s, every 0.25 s (the default) and one by one, beside the
    peers' plain broadcast of the same messages."""
    members, rate = sizes.chat_members, sizes.reading_rate
    seconds = sizes.updates_seconds
    variant = f"{members} members reading @ {rate:g}/s"
    if not isinstance(stack, Ours):
        row = await fanout_once(stack, members, rate, seconds, per_message=True)
        return [{"scenario": "reading", "variant": variant + " (plain broadcast)", **row}]
    rows = []
    for batch in sizes.reading_batches:
        row = await fanout_once(
            OursReading(batch), members, rate, seconds, per_message=True, room="bench-reading"
        )
        label = f"reads written every {batch:g} s" if batch else "each read written at once"
        rows.append({"scenario": "reading", "variant": f"{variant} ({label})", **row})
    return rows


async def scenario_updates(stack: Stack, sizes: Sizes) -> list[Row]:
    """Edits and reactions (in turn) on a message in a room of N members, against the same
    count of plain broadcasts on the peers (they have neither), in the same run."""
    members, rate = sizes.chat_members, sizes.updates_rate
    variant = f"{members} members @ {rate:g}/s"
    if not isinstance(stack, Ours):
        row = await fanout_once(stack, members, rate, sizes.updates_seconds, per_message=True)
        return [{"scenario": "updates", "variant": variant + " (plain broadcast)", **row}]
    updates = OursUpdates()
    room = "bench-updates"
    # The first socket (bench00000) publishes: it authors the message everyone edits.
    row = await fanout_once(
        updates,
        members,
        rate,
        sizes.updates_seconds,
        per_message=True,
        room=room,
        then=lambda: updates.prepare_target(room),
    )
    return [{"scenario": "updates", "variant": variant + " (edits and reactions)", **row}]


def _median_ms(samples: list[float]) -> float:
    return round(1000 * sorted(samples)[len(samples) // 2], 2)


def _notify_cost(accounts: int, repeats: int) -> list[Row]:
    """What a send costs with ``accounts`` accounts: one row for a broadcast, against a row
    per recipient (a group holding every account); and what reading the inbox costs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from notifications import selectors, services
    from notifications.models import Notification

    user_model = get_user_model()
    names = [f"cost{i:06d}" for i in range(accounts)]
    have = set(user_model.objects.filter(username__in=names).values_list("username", flat=True))
    unusable = make_password(None)
    user_model.objects.bulk_create(
        [user_model(username=n, password=unusable) for n in names if n not in have],
        batch_size=1000,
    )
    members = list(user_model.objects.filter(username__in=names).order_by("pk"))
    group, _ = Group.objects.get_or_create(name=f"bench-cost-{accounts}")
    group.user_set.add(*members)
    active = user_model.objects.filter(is_active=True).count()

    def timed(send: Any) -> list[float]:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            send()
            samples.append(time.perf_counter() - start)
        return samples

    broadcast = timed(lambda: services.notification_send(title="cost", to_all_users=True))
    per_user = timed(lambda: services.notification_send(title="cost", group=group))
    reader = members[0]
    unread = timed(lambda: selectors.unread_count(user=reader))
    inbox = timed(lambda: selectors.inbox_recent(user=reader, limit=20))
    Notification.objects.filter(title="cost").delete()
    return [
        {
            "scenario": "notify_cost",
            "variant": f"to all users ({active:,} accounts)",
            "send_ms_p50": _median_ms(broadcast),
            "send_ms_max": round(1000 * max(broadcast), 2),
            "rows_written": 1,
        },
        {
            "scenario": "notify_cost",
            "variant": f"to a group of {len(members):,} (a row each)",
            "send_ms_p50": _median_ms(per_user),
            "send_ms_max": round(1000 * max(per_user), 2),
            "rows_written": 1 + len(members),
        },
        {
            "scenario": "notify_cost",
            "variant": "one user's unread count / inbox page",
            "unread_count_ms": _median_ms(unread),
            "inbox_page_ms": _median_ms(inbox),
        },
    ]


async def scenario_notify_cost(stack: Stack, sizes: Sizes) -> list[Row]:
    if not isinstance(stack, Ours):
        return []  # the peers store nothing
    return await asyncio.to_thread(_notify_cost, sizes.cost_accounts, sizes.cost_repeats)


def _chat_cost(members: int, rooms_open: int, search_messages: int, repeats: int) -> list[Row]:
    """What chat's writes and reads cost in a room of ``members`` members (each with a read
    cursor): a post, a reaction, an edit, a read, a resume; one member's unread counts over
    ``rooms_open`` rooms; and a search over ``search_messages`` stored messages."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat import selectors, services
    from chat.models import Message, ReadState, Room

    user_model = get_user_model()
    names = [f"chat{i:06d}" for i in range(members)]
    have = set(user_model.objects.filter(username__in=names).values_list("username", flat=True))
    user_model.objects.bulk_create(
        [user_model(username=n) for n in names if n not in have], batch_size=1000
    )
    people = list(user_model.objects.filter(username__in=names).order_by("pk"))
    room, _ = Room.objects.get_or_create(slug=f"bench-members-{members}", defaults={"title": "B"})
    ReadState.objects.bulk_create(
        [ReadState(user=u, room=room) for u in people], ignore_conflicts=True, batch_size=1000
    )
    author, reader = people[0], people[1]

    def timed(action: Any) -> tuple[float, float, int]:
        samples, queries = [], 0
        for _ in range(repeats):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                action()
                samples.append(time.perf_counter() - start)
            queries = len(captured)
        return _median_ms(samples), round(1000 * max(samples), 2), queries

    def row(variant: str, action: Any, **extra: Any) -> Row:
        p50, worst, queries = timed(action)
        return {
            "scenario": "chat_cost",
            "variant": variant,
            "ms_p50": p50,
            "ms_max": worst,
            "queries": queries,
            **extra,
        }

    target = services.message_post(room=room, author=author, body="react to me")
    rows = [
        row(
            f"post to a room of {members:,} members",
            lambda: services.message_post(room=room, author=author, body="hello"),
            rows_written_per_member=0,
        ),
        row(
            "reaction toggle",
            lambda: services.reaction_toggle(
                room=room, user=reader, message_id=target.pk, emoji="👍"
            ),
        ),
        row(
            "edit",
            lambda: services.message_edit(
                room=room,
                user=author,
                message_id=target.pk,
                body=f"edited {time.perf_counter()}",
            ),
        ),
    ]
    top = Message.objects.filter(room=room).order_by("-id").first()
    ReadState.objects.filter(user=reader, room=room).update(last_read_id=0)
    rows.append(
        row(
            "read (cursor moves, counts sent to the user's pages)",
            lambda: (
                ReadState.objects.filter(user=reader, room=room).update(last_read_id=0),
                services.read_mark(user=reader, room=room, message_id=top.pk),
            ),
        )
    )
    room.refresh_from_db()
    rows.append(
        row(
            "resume after 20 changes (one query)",
            lambda: selectors.message_changes(room=room, after_seq=room.seq - 20, limit=1000),
        )
    )
    # One member's room list: counts over every room they opened.
    others = []
    for i in range(rooms_open):
        other, _ = Room.objects.get_or_create(slug=f"bench-open-{i}", defaults={"title": f"O{i}"})
        others.append(other)
        ReadState.objects.get_or_create(user=reader, room=other)
        if not Message.objects.filter(room=other).exists():
            for j in range(150):
                services.message_post(room=other, author=author, body=f"m{j} @{reader.username}")
    rows.append(
        row(
            f"unread counts over {rooms_open + 1} opened rooms (99+ each)",
            lambda: selectors.unread_counts(user=reader),
        )
    )
    rows.append(_search_cost(author, search_messages, repeats))
    return rows


def _search_cost(author: Any, count: int, repeats: int) -> Row:
    """Full-text search over ``count`` stored messages (filled in bulk once, kept)."""
    from django.db import connection

    from chat import selectors
    from chat.models import Message, Room

    room, _ = Room.objects.get_or_create(slug=f"bench-search-{count}", defaults={"title": "S"})
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    have = Message.objects.filter(room=room).count()
    batch = []
    for i in range(have, count):
        body = f"{words[i % 8]} {words[(i // 8) % 8]} message {i} rare{i % 1000}"
        batch.append(Message(room=room, author=author, body=body, seq=i + 1))
        if len(batch) == 20_000:
            Message.objects.bulk_create(batch)
            batch = []
    if batch:
        Message.objects.bulk_create(batch)
    samples = {}
    queries = [("common word", "alpha"), ("rare word", "rare7"), ("two words", "bravo echo")]
    for label, query in queries:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            selectors.message_search(query=query, limit=30)
            times.append(time.perf_counter() - start)
        samples[label] = _median_ms(times)
    return {
        "scenario": "chat_cost",
        "variant": f"search over {count:,} messages ({connection.vendor})",
        **{f"{k.replace(' ', '_')}_ms": v for k, v in samples.items()},
    }


async def scenario_chat_cost(stack: Stack, sizes: Sizes) -> list[Row]:
    if not isinstance(stack, Ours):
        return []  # the peers store nothing
    return await asyncio.to_thread(
        _chat_cost, sizes.chat_members, sizes.chat_rooms_open, sizes.search_messages, 5
    )


async def scenario_game(stack: Stack, sizes: Sizes) -> list[Row]:
    """Concurrent games, 2 players and 2 spectators each, random legal moves (ours only:
    the seed's Tornado game has no rules to compare)."""
    if not isinstance(stack, Ours):
        return []
    rows = []
    for count, rate in sizes.games:
        games = game_load.OursGames()

        async def body(
            games: game_load.OursGames = games, count: int = count, rate: float = rate
        ) -> Row:
            return await game_load.run(games, count, sizes.game_seconds, rate)

        row = await _with_server(games, 1, body)
        label = f"{count} games x 4 sockets @ {rate:g} moves/s each"
        rows.append({"scenario": "game", "variant": label, **row})
        if (row.get("p99_ms") or 1e9) > 250 or row.get("missing_deliveries"):
            break  # past what one process serves
    # Moves per second one process served, every move's state on all four sockets within
    # 250 ms at p99 (the steps stop at the first that did not).
    served = [
        r["moves_per_s"]
        for r in rows
        if (r.get("p99_ms") or 1e9) <= 250 and not r.get("missing_deliveries")
    ]
    rows.append(
        {
            "scenario": "game",
            "variant": "moves/s one process serves (p99 <= 250 ms)",
            "moves_per_s": max(served, default=0),
        }
    )
    return rows


async def scenario_arena(stack: Stack, sizes: Sizes) -> list[Row]:
    """Snake arenas: ours on one process and on two (the owner of most arenas killed at
    the end), the Tornado peer on its one; then how many arenas one process holds."""
    from django.conf import settings

    ticks = float(settings.ARENA_TICKS_PER_SECOND)
    if isinstance(stack, Ours):
        arenas: Stack = arena_load.OursArenas()
        process_counts = (1, 2)
    elif isinstance(stack, Tornado):
        arenas = arena_load.TornadoArenas(ticks)
        process_counts = (1,)
    else:
        return []  # the tutorial peer has no game
    rows = []
    size = f"{sizes.arenas} arenas x {sizes.arena_players}+{sizes.arena_spectators} @ {ticks:g}/s"
    for processes in process_counts:

        async def body(processes: int = processes) -> Row:
            return await arena_load.run(
                arenas,
                arenas=sizes.arenas,
                players=sizes.arena_players,
                spectators=sizes.arena_spectators,
                seconds=sizes.arena_seconds,
                processes=processes,
                kill_owner=processes > 1,
            )

        row = await _with_server(arenas, processes, body)
        rows.append({"scenario": "arena", "variant": f"{size}, {processes} proc", **row})
    held, steps = 0, []
    for count in sizes.arena_capacity:

        async def step(count: int = count) -> Row:
            return await arena_load.run(
                arenas,
                arenas=count,
                players=2,
                spectators=0,
                seconds=sizes.arena_seconds,
                processes=1,
            )

        row = await _with_server(arenas, 1, step)
        steps.append(
            {k: row[k] for k in ("arenas", "tick_p99_ms", "input_p99_ms", "server_cpu_pct")}
        )
        if (row["tick_p99_vs_target"] or 0) > 1.5:
            break
        held = count
    rows.append(
        {
            "scenario": "arena",
            "variant": "arenas one process holds (2 players each, p99 tick <= 1.5x)",
            "arenas_held": held,
            "steps": steps,
        }
    )
    return rows


async def scenario_private(stack: Stack, sizes: Sizes) -> list[Row]:
    """Posts and connects in a private room of N members (membership checked on every
    connect, posts to members only) beside the same room public, and the peers' plain
    broadcast; then a user with M direct conversations opening the room list."""
    members, rate, seconds = sizes.chat_members, sizes.private_rate, sizes.fanout_seconds
    variant = f"{members} members @ {rate:g}/s"
    if not isinstance(stack, Ours):
        row = await fanout_once(stack, members, rate, seconds)
        return [{"scenario": "private", "variant": variant + " (plain broadcast)", **row}]
    public = await fanout_once(stack, members, rate, seconds, room="bench-public")
    secret = await fanout_once(private.OursPrivate(), members, rate, seconds, room="bench-private")
    listing = await private.direct_list_row(
        private.OursPrivate(), sizes.direct_conversations, repeats=5
    )
    return [
        {"scenario": "private", "variant": variant + " (public room)", **public},
        {"scenario": "private", "variant": variant + " (private room)", **secret},
        listing,
    ]


async def scenario_reconnect(stack: Stack, sizes: Sizes) -> list[Row]:
    """A process holding N sockets is killed: every one back on the survivor (ours: from
    its cursor, nothing lost), as live.js reconnects (bench.reconnect)."""
    if not isinstance(stack, Ours | Tornado):
        return []  # the tutorial peer is the same server as ours, minus resume
    row = await reconnect.run(
        stack,
        sockets=sizes.reconnect_sockets,
        per_room=sizes.reconnect_per_room,
        rate=sizes.reconnect_rate,
    )
    label = f"{sizes.reconnect_sockets} sockets, their process killed"
    return [{"scenario": "reconnect", "variant": label, **row}]


SCENARIOS = {
    "fanout": scenario_fanout,
    "sustain": scenario_sustain,
    "roundtrip": scenario_roundtrip,
    "idle": scenario_idle,
    "storm": scenario_storm,
    "scaleout": scenario_scaleout,
    "notify": scenario_notify,
    "notify_cost": scenario_notify_cost,
    "chat_cost": scenario_chat_cost,
    "updates": scenario_updates,
    "reading": scenario_reading,
    "game": scenario_game,
    "arena": scenario_arena,
    "reconnect": scenario_reconnect,
    "private": scenario_private,
    "serve": scenario_serve,
}

# What docs/performance.md's table is made of (bench.report.TARGETS).
TARGET_SCENARIOS = ("fanout", "storm", "idle", "roundtrip", "reconnect", "serve")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from django.db import connection

    return {
        "database": connection.vendor,  # ours stores in it (DATABASE_URL, else SQLite)
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


async def run(scenarios: list[str], stacks: list[str], sizes: Sizes) -> dict[str, Any]:
    Ours.setup_django(Ours())
    results: list[Row] = []
    for name in scenarios:
        for stack_name in stacks:
            stack = make(stack_name)
            print(f"-- {name} on {stack_name}", flush=True)
            try:
                rows = await SCENARIOS[name](stack, sizes)
            except Exception as error:  # a peer falling over is a result, not a crash
                rows = [{"scenario": name, "variant": "error", "error": repr(error)[:300]}]
                stack.stop()
            for row in rows:
                row["stack"] = stack_name
                results.append(row)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--stacks", default="ours,tornado,tutorial")
    parser.add_argument("--tiny", action="store_true", help="5 sockets, 5 messages")
    parser.add_argument(
        "--targets",
        action="store_true",
        help="only the rows of docs/performance.md's table (make bench-targets)",
    )
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>.json)")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio in the client")
    args = parser.parse_args()
    scenarios = args.scenario or list(SCENARIOS)
    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    sizes = TINY if args.tiny else FULL
    if args.targets:
        scenarios = args.scenario or list(TARGET_SCENARIOS)
        if not args.tiny:
            sizes = dataclasses.replace(sizes, fanout=[(20, 10), (200, 50)], rt_rates=[100])
    runner: Callable[[Coroutine[Any, Any, dict[str, Any]]], dict[str, Any]] = asyncio.run
    if not args.no_uvloop:
        import uvloop

        runner = uvloop.run
    try:
        data = runner(run(scenarios, stacks, sizes))
    finally:
        stop_embedded_redis()
    out = args.out or RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2))
    if args.out is None:
        (RESULTS / "latest.json").write_text(json.dumps(data, indent=2))
    print(report.table(data))
    print(report.targets(data))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
