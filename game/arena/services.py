"""Arenas as stored: the arena, its rounds and their results.

An arena's world lives in Redis and runs in one process (``game.arena``); staff
commands go to the process running the arena, which applies them at its next tick.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from game import protocol, selectors
from game.arena import store as arena_store
from game.arena import world as arena_world
from game.models import Arena, ArenaResult, ArenaRound
from game.players import pairing_lock, player_check
from realtime.broadcast import publish_on_commit
from realtime.errors import ActionError, ErrorCode

#
# An arena's world lives in Redis and runs in one process (game.arena); what is stored
# here is the arena itself, its rounds and their results. Staff commands go to the
# process running the arena, which applies them at its next tick.


def _arena_summary(arena: Arena, players: int = 0, spectators: int = 0) -> protocol.ArenaSummary:
    return protocol.arena_summary(
        arena_id=arena.pk,
        name=arena.name,
        url=arena.get_absolute_url(),
        players=players,
        spectators=spectators,
        phase=arena_world.WAITING,
    )


def _stale_arenas(user: Any) -> list[int]:
    """The user's open arenas that no process has run for ARENA_EMPTY_CLOSE_SECONDS (an
    arena runs while anyone is on its page; one opened and never visited never ran):
    empty, so closed as an empty arena is. Asked of Redis before any row is locked."""
    since = timezone.now() - timedelta(seconds=settings.ARENA_EMPTY_CLOSE_SECONDS)
    mine = list(
        Arena.objects.filter(
            created_by=user, status=Arena.State.OPEN, created_at__lt=since
        ).values_list("pk", flat=True)
    )
    info = arena_store.read_info_sync(mine)
    return [pk for pk in mine if info.get(pk, {}).get("owner") is None]


def arena_create(*, user: Any, private: bool = False) -> Arena:
    """Open an arena. A user has at most ARENA_MAX_OPEN_PER_USER open, one of them
    public: asking for a public arena again gives back the one they have."""
    player_check(user)
    stale = _stale_arenas(user)
    with transaction.atomic():
        # One user's opens one at a time (their row is the lock): two at once must not
        # both find room under the cap.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        for arena_id in stale:
            arena_close(arena_id=arena_id)
        mine = Arena.objects.filter(created_by=user, status=Arena.State.OPEN)
        if not private:
            public = mine.filter(private=False).order_by("-id").first()
            if public is not None:
                return public
        cap = settings.ARENA_MAX_OPEN_PER_USER
        if mine.count() >= cap:
            minutes = max(1, round(settings.ARENA_EMPTY_CLOSE_SECONDS / 60))
            raise ActionError(
                ErrorCode.FORBIDDEN,
                f"You have {cap} arena{'s' if cap != 1 else ''} open already. Play in one"
                f" of them: an arena closes once it has stood empty for {minutes} minute"
                f"{'s' if minutes != 1 else ''}.",
            )
        arena = Arena.objects.create(name="Arena", private=private, created_by=user)
        arena.name = f"Arena {arena.pk}"
        arena.save(update_fields=["name"])
        if not private:
            publish_on_commit(
                protocol.LOBBY_GROUP,
                protocol.ArenaListed(arena=_arena_summary(arena)),
            )
    return arena


def arena_quick_play(*, user: Any) -> Arena:
    """The fullest public arena that has room (play is better with others), else a new
    one. Quick plays take the pairing lock: two at once with none open share one."""
    player_check(user)
    with transaction.atomic():
        pairing_lock()
        arenas = selectors.arenas_open()
        info = arena_store.read_info_sync([a.pk for a in arenas])
        limit = settings.ARENA_MAX_PLAYERS
        with_room = [
            (info.get(a.pk, {}).get("players", 0), -a.pk, a)
            for a in arenas
            if info.get(a.pk, {}).get("players", 0) < limit
        ]
        if with_room:
            return max(with_room, key=lambda row: row[:2])[2]
        return arena_create(user=user)


def arena_summaries(arenas: list[Arena]) -> list[protocol.ArenaSummary]:
    """The lobby's lines for these arenas, with what their owners last said of them."""
    info = arena_store.read_info_sync([a.pk for a in arenas])
    rows = []
    for arena in arenas:
        said = info.get(arena.pk, {})
        summary = _arena_summary(arena, said.get("players", 0), said.get("spectators", 0))
        summary.phase = said.get("phase", arena_world.WAITING)
        rows.append(summary)
    return rows


def arena_round_start(*, arena_id: int, number: int, seed: int) -> int:
    """Store a new round (again, if an owner died before its snapshot said so)."""
    round_, _ = ArenaRound.objects.update_or_create(
        arena_id=arena_id, number=number, defaults={"seed": seed}
    )
    return round_.pk


def arena_round_finish(
    *, round_id: int, ticks: int, results: list[dict[str, Any]], by_staff: bool
) -> None:
    """Store a round's end and each player's result; storing twice changes nothing."""
    with transaction.atomic():
        round_ = ArenaRound.objects.select_for_update().filter(pk=round_id).first()
        if round_ is None:
            return
        round_.ended_at = round_.ended_at or timezone.now()
        round_.ticks = ticks
        round_.ended_by_staff = by_staff
        round_.save()
        users = set(
            get_user_model()
            .objects.filter(pk__in=[r["player"] for r in results])
            .values_list("pk", flat=True)
        )
        for row in results:
            if row["player"] not in users:
                continue  # the account was deleted since
            ArenaResult.objects.update_or_create(
                round=round_,
                user_id=row["player"],
                defaults={key: row[key] for key in ("score", "length", "kills", "deaths")},
            )


def arena_close(*, arena_id: int) -> bool:
    """Close an arena (its owner does, once it stands empty); it leaves the lobby."""
    with transaction.atomic():
        arena = Arena.objects.select_for_update().filter(pk=arena_id).first()
        if arena is None or arena.status != Arena.State.OPEN:
            return False
        arena.status = Arena.State.CLOSED
        arena.closed_at = timezone.now()
        arena.save(update_fields=["status", "closed_at"])
        if not arena.private:
            publish_on_commit(
                protocol.LOBBY_GROUP,
                protocol.ArenaRemoved(id=arena.pk),
            )
    return True


def arena_end_round(*, arenas: Any) -> int:
    """Staff: end the current round of these arenas now (results are stored as usual)."""
    return sum(
        arena_store.send_command_sync(a.pk, {"kind": "end_round", "player": 0}) for a in arenas
    )


def arena_remove_player(*, arena_id: int, user_id: int) -> bool:
    """Staff: take a player out of an arena; they may still watch."""
    return arena_store.send_command_sync(arena_id, {"kind": "remove", "player": user_id})


def arena_staff_close(*, arenas: Any) -> int:
    """Staff: close arenas now. A running arena closes at its next tick (its players are
    told); one that is not running is closed here."""
    return sum(
        arena_store.send_command_sync(arena.pk, {"kind": "close", "player": 0})
        or arena_close(arena_id=arena.pk)
        for arena in arenas
    )
