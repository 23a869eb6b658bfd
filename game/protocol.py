"""Every frame of the game sockets, defined once. docs/protocol.md describes them."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from game.models import Game, Status
from game.rules import from_board
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    PING,
    USER,
    ClientFrame,
    Field,
    Maybe,
    ServerFrame,
    frame_registry,
    id_field,
    server_registry,
)

INVITE_MAX = 64

LOBBY_CLIENT_FRAMES = frame_registry(
    PING,
    ClientFrame("create", {"private": Field(bool, required=False)}),
    ClientFrame("join", {"id": id_field()}),
    ClientFrame("cancel", {"id": id_field()}),
    ClientFrame("quick_play"),
    ClientFrame("arena_create", {"private": Field(bool, required=False)}),
    ClientFrame("arena_quick_play"),
)

GAME_CLIENT_FRAMES = frame_registry(
    PING,
    # The column's range is the rules' business: out of range is an illegal move.
    ClientFrame("move", {"column": Field(int)}),
    ClientFrame("join", {"code": Field(str, required=False, max_length=INVITE_MAX)}),
    ClientFrame("cancel"),
    ClientFrame("resign"),
    ClientFrame("offer_draw"),
    ClientFrame("accept_draw"),
    ClientFrame("decline_draw"),
    ClientFrame("claim_win"),
    ClientFrame("rematch"),
    ClientFrame("invite", {"username": Field(str, max_length=150)}),
)

# Channel-layer event types (handled by Consumer.game_<name>).
EVENT_STATE = "game.state"
EVENT_LOBBY = "game.lobby"
EVENT_LOBBY_REMOVED = "game.lobby_removed"
EVENT_ONLINE = "game.online"
EVENT_SPECTATORS = "game.spectators"

# Hub groups (where broadcasts go) and presence rooms (who is on a page), named here only.
LOBBY_GROUP = "game.lobby"
LOBBY_PRESENCE = "game-lobby"


def game_group(game_id: int) -> str:
    return f"game.{game_id}"


def page_presence(game_id: int) -> str:
    """Who has the game's page open (``realtime.presence`` keeps it in Redis)."""
    return f"game-page.{game_id}"


def grace_seconds() -> float:
    return settings.GAME_RECONNECT_GRACE_SECONDS


def _player(game: Game, number: int) -> dict[str, Any] | None:
    user = game.player(number)
    if user is None:
        return None
    left_at = game.player1_left_at if number == 1 else game.player2_left_at
    return {
        "number": number,
        "id": user.pk,
        "username": user.get_username(),
        "online": game.player1_online if number == 1 else game.player2_online,
        "left_at": left_at.isoformat() if left_at else None,
    }


def game_payload(game: Game) -> dict[str, Any]:
    # The winning line is worked out only once there is a winner (not on every move).
    line = from_board(game.board, game.turn).line if game.winner else ()
    return {
        "id": game.pk,
        "version": game.version,
        "status": game.status,
        "private": game.private,
        "board": game.board,
        "turn": game.turn if game.status == Status.ACTIVE else None,
        "moves": game.board.count("1") + game.board.count("2"),
        "winner": game.winner,
        "reason": game.reason,
        "line": [list(cell) for cell in line],
        "players": [_player(game, 1), _player(game, 2)],
        "draw_offer": game.draw_offer,
        "rematch_offer": game.rematch_offer,
        "rematch_id": game.rematch_id,
        "grace_seconds": grace_seconds(),
        "url": game.get_absolute_url(),
    }


def state_frame(game: Game, last: list[int] | None = None) -> dict[str, Any]:
    """The whole game, with its version: a client keeps the highest version it has seen."""
    return {"type": "state", "game": game_payload(game), "last": last}


def summary(game: Game, spectators: int = 0) -> dict[str, Any]:
    """A game as the lobby lists it."""
    return {
        "id": game.pk,
        "status": game.status,
        "players": [
            user.get_username() for user in (game.player1, game.player2) if user is not None
        ],
        "moves": game.board.count("1") + game.board.count("2"),
        "spectators": spectators,
        "url": game.get_absolute_url(),
    }


def lobby_frame(game: Game, spectators: int = 0) -> dict[str, Any]:
    return {"type": "game", "game": summary(game, spectators)}


def lobby_removed_frame(game_id: int) -> dict[str, Any]:
    return {"type": "game.removed", "id": game_id}


def spectator_count(game: Game, on_page: int) -> int:
    """People on the game page who are not its players."""
    return max(0, on_page - int(game.player1_online) - int(game.player2_online))


def spectators_frame(game_id: int, count: int) -> dict[str, Any]:
    return {"type": "spectators", "id": game_id, "count": count}


def online_frame(count: int) -> dict[str, Any]:
    return {"type": "online", "count": count}


# ---------------------------------------------------------------- server frames

SUMMARY = {
    "id": int,
    "status": str,
    "players": [str],
    "moves": int,
    "spectators": int,
    "url": str,
}
ARENA_SUMMARY = {
    "id": int,
    "name": str,
    "players": int,
    "spectators": int,
    "max": int,
    "phase": str,
    "url": str,
}
PLAYER = {"number": int, "id": int, "username": str, "online": bool, "left_at": (str, None)}
GAME = {
    "id": int,
    "version": int,
    "status": str,
    "private": bool,
    "board": str,
    "turn": (int, None),
    "moves": int,
    "winner": (int, None),
    "reason": str,
    "line": [[int]],
    "players": [(PLAYER, None)],
    "draw_offer": (int, None),
    "rematch_offer": (int, None),
    "rematch_id": (int, None),
    "grace_seconds": float,
    "url": str,
}
SPECTATORS = ServerFrame("spectators", {"id": int, "count": int})

LOBBY_SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame(
        "sync",
        {
            "waiting": [SUMMARY],
            "playing": [SUMMARY],
            "arenas": [ARENA_SUMMARY],
            "online": int,
            "me": (USER, None),
        },
    ),
    ServerFrame("game", {"game": SUMMARY}),
    ServerFrame("game.removed", {"id": int}),
    SPECTATORS,
    ServerFrame("online", {"count": int}),
    ServerFrame("joined", {"game": SUMMARY, "invite_url": Maybe(str)}),
    ServerFrame("arena", {"arena": ARENA_SUMMARY}),
    ServerFrame("arena.removed", {"id": int}),
    ServerFrame("arena.joined", {"arena": ARENA_SUMMARY, "invite_url": Maybe(str)}),
)
GAME_SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame(
        "sync",
        {
            "you": {"number": (int, None), "username": (str, None)},
            "game": GAME,
            "moves": [int],
            "spectators": int,
        },
    ),
    ServerFrame("state", {"game": GAME, "last": ([int], None)}),
    SPECTATORS,
    ServerFrame("invited", {"username": str}),
)


def lobby_sync_frame(
    *,
    waiting: list[Game],
    playing: list[tuple[Game, int]],
    arenas: list[dict[str, Any]],
    online: int,
    me: Any,
) -> dict[str, Any]:
    return {
        "type": "sync",
        "waiting": [summary(game) for game in waiting],
        "playing": [summary(game, spectators) for game, spectators in playing],
        "arenas": arenas,
        "online": online,
        "me": {"id": me.pk, "username": me.get_username()} if me is not None else None,
    }


def joined_frame(game: Game) -> dict[str, Any]:
    """To the socket that created, joined or quick-played ``game`` (reads its players)."""
    frame: dict[str, Any] = {"type": "joined", "game": summary(game)}
    if game.private:
        frame["invite_url"] = f"{game.get_absolute_url()}?code={game.invite_code}"
    return frame


def game_sync_frame(
    *, game: Game, moves: list[int], number: int | None, username: str | None, on_page: int
) -> dict[str, Any]:
    return {
        "type": "sync",
        "you": {"number": number, "username": username},
        "game": game_payload(game),
        "moves": moves,
        "spectators": spectator_count(game, on_page),
    }


def invited_frame(username: str) -> dict[str, Any]:
    return {"type": "invited", "username": username}


# ---------------------------------------------------------------- snake arenas
#
# An arena's world runs in one process at a time (game.arena); these are its frames.
# Ticks are deltas (what moved, died, appeared, scored); a "world" is the whole state,
# sent on connect (sync) and when it starts over (a new round, a new owner).

ARENA_DIRECTIONS = ("up", "down", "left", "right")
ARENA_SEQ_MAX = 2**31 - 1

ARENA_CLIENT_FRAMES = frame_registry(
    PING,
    ClientFrame("join"),
    ClientFrame("leave"),
    # A direction change; "snake", when given, must be the sender's own (their user id).
    ClientFrame(
        "turn",
        {
            "dir": Field(str, max_length=5),
            "seq": Field(int, min_value=0, max_value=ARENA_SEQ_MAX),
            "snake": Field(int, required=False, min_value=0, max_value=2**63 - 1),
        },
        ack=False,
    ),
    # How far the client has read: a socket too far behind is dropped, not buffered for.
    ClientFrame("seen", {"tick": Field(int, min_value=0)}, ack=False),
)

# The ``closing`` reason of an arena socket closed (4500) for reading too little: its
# ``seen`` lags more than ARENA_MAX_UNREAD_TICKS behind the ticks sent, or never came.
ARENA_CLOSING_BEHIND = "behind"

# Channel-layer event types (handled by ArenaConsumer.arena_<name>).
EVENT_ARENA_TICK = "arena.tick"
EVENT_ARENA_WORLD = "arena.world"
EVENT_ARENA_OVER = "arena.over"
EVENT_ARENA_CLOSED = "arena.closed"
EVENT_LOBBY_ARENA = "game.arena"
EVENT_LOBBY_ARENA_REMOVED = "game.arena_removed"
# To an arena's owner (its inbox): a player's input or a staff command.
EVENT_ARENA_INPUT = "arena.input"


def arena_group(arena_id: int) -> str:
    """An arena's sockets in each process (a hub-local group: its ticks come in batches)."""
    return f"arena.{arena_id}"


# The layer group of every hub with an arena socket: the arena processes' tick batches.
ARENA_BATCH_GROUP = "arena.batches"


def arena_presence(arena_id: int) -> str:
    return f"arena-page.{arena_id}"


def arena_summary(
    *, arena_id: int, name: str, url: str, players: int, spectators: int, phase: str
) -> dict[str, Any]:
    """An arena as the lobby lists it."""
    return {
        "id": arena_id,
        "name": name,
        "players": players,
        "spectators": spectators,
        "max": settings.ARENA_MAX_PLAYERS,
        "phase": phase,
        "url": url,
    }


def lobby_arena_frame(summary: dict[str, Any]) -> dict[str, Any]:
    return {"type": "arena", "arena": summary}


def lobby_arena_removed_frame(arena_id: int) -> dict[str, Any]:
    return {"type": "arena.removed", "id": arena_id}


def arena_joined_frame(summary: dict[str, Any], invite_url: str | None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "arena.joined", "arena": summary}
    if invite_url:
        frame["invite_url"] = invite_url
    return frame


def arena_sync_frame(
    *, arena: dict[str, Any], you: dict[str, Any], world: dict[str, Any] | None
) -> dict[str, Any]:
    return {"type": "sync", "arena": arena, "you": you, "world": world}


def arena_world_frame(world: dict[str, Any]) -> dict[str, Any]:
    return {"type": "world", "world": world}


def arena_over_frame(
    *, round_number: int, results: list[dict[str, Any]], next_in: float
) -> dict[str, Any]:
    return {"type": "round_over", "round": round_number, "results": results, "next_in": next_in}


def arena_closed_frame(reason: str) -> dict[str, Any]:
    return {"type": "closed", "reason": reason}


CELL = [int]
ARENA_SNAKE = {
    "player": int,
    "body": [CELL],
    "direction": str,
    "alive": bool,
    "respawn_in": int,  # ticks until a dead snake is back
    "score": int,
    "kills": int,
    "deaths": int,
}
ARENA_RESULT = {
    "player": int,
    "username": str,
    "score": int,
    "length": int,
    "kills": int,
    "deaths": int,
}
WORLD = {
    "epoch": int,
    "tick": int,
    "tick_ms": float,
    "phase": str,  # waiting (no players), play, results
    "round": int,
    "ends_in": float,  # seconds until the round (or the results) end
    "width": int,
    "height": int,
    "respawn_ticks": int,
    "snakes": [ARENA_SNAKE],
    "food": [CELL],
    "players": [{"id": int, "username": str}],
    "acks": [[int]],  # [player, the last input sequence number applied]
    "results": ([ARENA_RESULT], None),
}
ARENA_SERVER_FRAMES = server_registry(
    *COMMON_SERVER_FRAMES,
    ServerFrame(
        "sync",
        {
            "arena": {"id": int, "name": str, "private": bool, "max": int},
            "you": {"id": (int, None), "username": (str, None)},
            "world": (WORLD, None),
        },
    ),
    ServerFrame("world", {"world": WORLD}),
    # One tick: only what changed; absent lists are empty.
    ServerFrame(
        "tick",
        {
            "t": int,
            "e": int,
            "moved": Maybe([[int]]),  # [player, x, y, 1 if the tail moved else 0]
            "died": Maybe([[int]]),  # [player, killer (0: nobody)]
            "spawned": Maybe([ARENA_SNAKE]),
            "eaten": Maybe([CELL]),
            "food": Maybe([CELL]),  # placed
            "scores": Maybe([[int]]),  # [player, score, kills, deaths]
            "acks": Maybe([[int]]),  # [player, sequence number]
            "joined": Maybe([{"id": int, "username": str}]),  # as the world's "players"
            "left": Maybe([{"id": int, "username": str}]),
            "refused": Maybe([int]),  # players who asked to join a full arena
        },
    ),
    ServerFrame("round_over", {"round": int, "results": [ARENA_RESULT], "next_in": float}),
    ServerFrame("closed", {"reason": str}),
)
