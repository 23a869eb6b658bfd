"""Every frame of the game sockets, declared once. docs/protocol.md describes them."""

from __future__ import annotations

from typing import Annotated, ClassVar

from django.conf import settings

from game.models import Game, Status
from game.rules import winning_lines
from realtime.protocol import (
    COMMON_SERVER_FRAMES,
    MAX_ID,
    UNSET,
    ClientFrame,
    Id,
    Meta,
    Payload,
    Ping,
    ServerFrame,
    UnsetType,
    User,
    client_frames,
    server_frames,
)

INVITE_MAX = 64

# ---------------------------------------------------------------- client frames


class Create(ClientFrame, tag="create"):
    """Reply: `joined` (with `invite_url` for a private game)"""

    private: bool = False


class JoinGame(ClientFrame, tag="join"):
    """Reply: `joined`"""

    id: Id


class CancelGame(ClientFrame, tag="cancel"):
    """Reply: the lobby's `game.removed` (only the creator, only while waiting)"""

    id: Id


class QuickPlay(ClientFrame, tag="quick_play"):
    """Reply: `joined`: a game with the longest-waiting player, or a new one to wait in"""


class ArenaCreate(ClientFrame, tag="arena_create"):
    """Reply: `arena.joined` (with `invite_url` for a private arena). A user has at most
    `ARENA_MAX_OPEN_PER_USER` (3) arenas open, one of them public: asking for a public arena
    again answers with the one they have (as `create` does for a Connect Four game); past the
    cap, `forbidden`. Their arenas that no process has run for `ARENA_EMPTY_CLOSE_SECONDS`
    (opened and never visited) are closed first, as an empty arena is."""

    private: bool = False


class ArenaQuickPlay(ClientFrame, tag="arena_quick_play"):
    """Reply: `arena.joined`: the fullest public snake arena with room, or a new one"""


LOBBY_CLIENT_FRAMES = client_frames(
    Ping, QuickPlay, Create, JoinGame, CancelGame, ArenaQuickPlay, ArenaCreate
)


class Move(ClientFrame, tag="move"):
    """Who: the player whose turn it is
    Effect: drops a piece; `state` to everyone"""

    # The column's range is the rules' business: out of range is an illegal move.
    column: int


class Join(ClientFrame, tag="join"):
    """Who: a logged-in non-player, while waiting
    Effect: becomes player 2; the game starts (a player's own `join` is simply acked)"""

    code: Annotated[str, Meta(max_length=INVITE_MAX)] | None = None


class Cancel(ClientFrame, tag="cancel"):
    """Who: the creator, while waiting
    Effect: the game is aborted"""


class Resign(ClientFrame, tag="resign"):
    """Who: a player, in progress
    Effect: the other player wins"""


class OfferDraw(ClientFrame, tag="offer_draw"):
    """Who: a player, in progress
    Effect: `draw_offer` set (both offering = agreed)"""


class AcceptDraw(ClientFrame, tag="accept_draw"):
    """Who: the other player
    Effect: draw agreed"""


class DeclineDraw(ClientFrame, tag="decline_draw"):
    """Who: the other player
    Effect: offer cleared; the `state` names whose offer was declined (`declined`)"""


class ClaimWin(ClientFrame, tag="claim_win"):
    """Who: a player, once the opponent has been disconnected for `grace_seconds`
    Effect: wins (`abandoned`)"""


class Rematch(ClientFrame, tag="rematch"):
    """Who: a player, after the end
    Effect: `rematch_offer` set; when both asked, a new game with colours swapped
    (`rematch_id`)"""


class Invite(ClientFrame, tag="invite"):
    """Who: the creator, while waiting
    Effect: a notification to that user with the link (repeats fold into one); reply
    `invited`"""

    username: Annotated[str, Meta(max_length=150)]


GAME_CLIENT_FRAMES = client_frames(
    Ping,
    Move,
    Join,
    Cancel,
    Resign,
    OfferDraw,
    AcceptDraw,
    DeclineDraw,
    ClaimWin,
    Rematch,
    Invite,
)

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


def spectator_count(game: Game, on_page: int) -> int:
    """People on the game page who are not its players."""
    return max(0, on_page - int(game.player1_online) - int(game.player2_online))


# ---------------------------------------------------------------- server frames


class Player(Payload):
    number: int
    id: int
    username: str
    online: bool
    left_at: str | None

    @classmethod
    def of(cls, game: Game, number: int) -> Player | None:
        user = game.player(number)
        if user is None:
            return None
        left_at = game.player1_left_at if number == 1 else game.player2_left_at
        return cls(
            number=number,
            id=user.pk,
            username=user.get_username(),
            online=game.player1_online if number == 1 else game.player2_online,
            left_at=left_at.isoformat() if left_at else None,
        )


class GameData(Payload):
    id: int
    version: int
    status: str
    private: bool
    board: str
    turn: int | None
    moves: int
    winner: int | None
    reason: str
    line: list[list[int]]
    lines: list[list[list[int]]]
    players: list[Player | None]
    draw_offer: int | None
    rematch_offer: int | None
    rematch_id: int | None
    grace_seconds: float
    url: str

    @classmethod
    def of(cls, game: Game) -> GameData:
        # The winning lines are worked out only once there is a winner (not on every
        # move); ``line`` is every cell of them, ``lines`` each run from end to end.
        lines = winning_lines(game.board) if game.winner else ()
        line = sorted({cell for run in lines for cell in run})
        return cls(
            id=game.pk,
            version=game.version,
            status=game.status,
            private=game.private,
            board=game.board,
            turn=game.turn if game.status == Status.ACTIVE else None,
            moves=game.board.count("1") + game.board.count("2"),
            winner=game.winner,
            reason=game.reason,
            line=[list(cell) for cell in line],
            lines=[[list(cell) for cell in run] for run in lines],
            players=[Player.of(game, 1), Player.of(game, 2)],
            draw_offer=game.draw_offer,
            rematch_offer=game.rematch_offer,
            rematch_id=game.rematch_id,
            grace_seconds=grace_seconds(),
            url=game.get_absolute_url(),
        )


class Summary(Payload):
    """A game as the lobby lists it."""

    id: int
    status: str
    players: list[str]
    moves: int
    spectators: int
    url: str

    @classmethod
    def of(cls, game: Game, spectators: int = 0) -> Summary:
        return cls(
            id=game.pk,
            status=game.status,
            players=[u.get_username() for u in (game.player1, game.player2) if u is not None],
            moves=game.board.count("1") + game.board.count("2"),
            spectators=spectators,
            url=game.get_absolute_url(),
        )


class ArenaSummary(Payload):
    """An arena as the lobby lists it."""

    id: int
    name: str
    players: int
    spectators: int
    max: int
    phase: str
    url: str


def arena_summary(
    *, arena_id: int, name: str, url: str, players: int, spectators: int, phase: str
) -> ArenaSummary:
    return ArenaSummary(
        id=arena_id,
        name=name,
        players=players,
        spectators=spectators,
        max=settings.ARENA_MAX_PLAYERS,
        phase=phase,
        url=url,
    )


class LobbySync(ServerFrame, tag="sync"):
    waiting: list[Summary]
    playing: list[Summary]
    arenas: list[ArenaSummary]
    online: int
    me: User | None


class Listed(ServerFrame, tag="game"):
    event: ClassVar[str] = "game.lobby"
    game: Summary


class Removed(ServerFrame, tag="game.removed"):
    event: ClassVar[str] = "game.lobby_removed"
    id: int


class Spectators(ServerFrame, tag="spectators"):
    event: ClassVar[str] = "game.spectators"
    id: int
    count: int


class Online(ServerFrame, tag="online"):
    event: ClassVar[str] = "game.online"
    count: int


class Joined(ServerFrame, tag="joined"):
    game: Summary
    invite_url: str | UnsetType = UNSET

    @classmethod
    def of(cls, game: Game) -> Joined:
        """To the socket that created, joined or quick-played ``game`` (reads its players)."""
        frame = cls(game=Summary.of(game))
        if game.private:
            frame.invite_url = f"{game.get_absolute_url()}?code={game.invite_code}"
        return frame


class ArenaListed(ServerFrame, tag="arena"):
    event: ClassVar[str] = "game.arena"
    arena: ArenaSummary


class ArenaRemoved(ServerFrame, tag="arena.removed"):
    event: ClassVar[str] = "game.arena_removed"
    id: int


class ArenaJoined(ServerFrame, tag="arena.joined"):
    arena: ArenaSummary
    invite_url: str | UnsetType = UNSET


class You(Payload):
    number: int | None
    username: str | None


class GameSync(ServerFrame, tag="sync"):
    you: You
    game: GameData
    moves: list[int]
    spectators: int


class State(ServerFrame, tag="state"):
    """The whole game, with its version: a client keeps the highest version it has seen."""

    event: ClassVar[str] = "game.state"
    game: GameData
    last: list[int] | None = None
    # The player whose draw offer this change declined (the other's `decline_draw`), so
    # that their page can say so; it rides with the state that clears the offer.
    declined: int | None = None


class Invited(ServerFrame, tag="invited"):
    username: str


LOBBY_SERVER_FRAMES = server_frames(
    *COMMON_SERVER_FRAMES,
    LobbySync,
    Listed,
    Removed,
    Spectators,
    Online,
    Joined,
    ArenaListed,
    ArenaRemoved,
    ArenaJoined,
)
GAME_SERVER_FRAMES = server_frames(*COMMON_SERVER_FRAMES, GameSync, State, Spectators, Invited)


# ---------------------------------------------------------------- snake arenas
#
# An arena's world runs in one process at a time (game.arena); these are its frames.
# Ticks are deltas (what moved, died, appeared, scored); a "world" is the whole state,
# sent on connect (sync) and when it starts over (a new round, a new owner).

ARENA_DIRECTIONS = ("up", "down", "left", "right")
ARENA_SEQ_MAX = 2**31 - 1
# What the pages check before sending (static/realtime/protocol.js, generated).
JS_LIMITS = {"INVITE_MAX_LENGTH": INVITE_MAX, "ARENA_SEQ_MAX": ARENA_SEQ_MAX}


class ArenaJoin(ClientFrame, tag="join"):
    """Who: a logged-in user
    Effect: becomes a player (answered `ack`; during a round the snake enters at a following
    tick, `joined` in the tick; between rounds a `world` lists them at once, and the next
    round's first tick has them in `joined`; `refused` in a tick if the arena is full). A
    player has one seat: once the join is applied, they leave the arena they joined before
    (`left` in its ticks), and that arena's sockets of theirs do not join it again by
    themselves."""


class ArenaLeave(ClientFrame, tag="leave"):
    """Who: a player
    Effect: becomes a spectator (`left` in the next tick during a round; between rounds, a
    `world` without them)"""


class Turn(ClientFrame, tag="turn"):
    """A direction change; ``snake``, when given, must be the sender's own (their user id).

    Who: a player
    Effect: the direction for a coming tick, for the world the socket was last sent: it is
    applied within `ARENA_TURN_WINDOW_TICKS` (10) ticks of the newest tick the socket had,
    by the same owner (`epoch`) in the same round, or never. The server keeps at most two
    a tick per player (a quick double turn) and refuses the rest; the tick that applies it
    carries `acks: [[player, seq]]` (applied: the rules still ignore a reverse onto
    yourself, or a turn of a snake that is out). Without a `ref` there is no other reply:
    the ticks' `acks` say which turns were applied. **With a `ref`, the reply comes once
    the turn is decided**: `ack` only after the tick that applied it (that tick, or a
    `world` after it, reaches the socket first), or `error` `not_applied` if it was not
    applied and never will be (a third turn in a tick, sent between rounds, or lost with an
    owner that stopped: a failover, see below). A socket that closes first leaves it
    unanswered; the world a new socket gets says in `acks` the last turn applied."""

    ack: ClassVar[bool] = False
    dir: Annotated[str, Meta(max_length=5, description="`up`, `down`, `left` or `right`")]
    seq: Annotated[
        int,
        Meta(ge=0, le=ARENA_SEQ_MAX, description="integer ≥ 0 (the client's own counter, rising)"),
    ]
    snake: (
        Annotated[int, Meta(ge=0, le=MAX_ID, description="integer (must be your user id)")] | None
    ) = None


class Seen(ClientFrame, tag="seen"):
    """How far the client has read: a socket too far behind is dropped, not buffered for.

    Who: anyone
    Effect: how far the client has read. **Every client must send it** while ticks come, at
    least every `ARENA_MAX_UNREAD_TICKS` ticks (50: 5 s at the default tick rate); the page
    sends it every second. A socket more than that many ticks behind its last `seen` (or
    its last `sync` or `world`, if it never sent one) gets `{"type": "closing", "reason":
    "behind"}` and is closed with 4500 (it reconnects and starts from the whole world)
    instead of having ticks buffered for it. A tick past the newest one the socket was sent
    counts as that one (a page that reconnected may send its last socket's tick). No reply
    unless it carries a `ref` (`ack`)."""

    ack: ClassVar[bool] = False
    tick: Annotated[int, Meta(ge=0)]


ARENA_CLIENT_FRAMES = client_frames(Ping, ArenaJoin, ArenaLeave, Turn, Seen)

# The ``closing`` reason of an arena socket closed (4500) for reading too little: its
# ``seen`` lags more than ARENA_MAX_UNREAD_TICKS behind the ticks sent, or never came.
ARENA_CLOSING_BEHIND = "behind"

# To an arena's owner (its inbox): a player's input or a staff command (not a frame).
EVENT_ARENA_INPUT = "arena.input"


def arena_group(arena_id: int) -> str:
    """An arena's sockets in each process (a hub-local group: its ticks come in batches)."""
    return f"arena.{arena_id}"


# The layer group of every hub with an arena socket: the arena processes' tick batches.
ARENA_BATCH_GROUP = "arena.batches"


def arena_presence(arena_id: int) -> str:
    return f"arena-page.{arena_id}"


Cell = list[int]


class ArenaSnake(Payload):
    player: int
    body: list[Cell]
    direction: str
    alive: bool
    respawn_in: int  # ticks until a dead snake is back
    score: int
    kills: int
    deaths: int


class ArenaResult(Payload):
    player: int
    username: str
    score: int
    length: int
    kills: int
    deaths: int


class World(Payload):
    epoch: int
    tick: int
    tick_ms: float
    phase: str  # waiting (no players), play, results
    round: int
    ends_in: float  # seconds until the round (or the results) end
    width: int
    height: int
    respawn_ticks: int
    snakes: list[ArenaSnake]
    food: list[Cell]
    players: list[User]
    acks: list[list[int]]  # [player, the last input sequence number applied]
    results: list[ArenaResult] | None


class ArenaInfo(Payload):
    id: int
    name: str
    private: bool
    max: int


class Viewer(Payload):
    id: int | None
    username: str | None


class ArenaSync(ServerFrame, tag="sync"):
    arena: ArenaInfo
    you: Viewer
    world: World | None


class WorldFrame(ServerFrame, tag="world"):
    event: ClassVar[str] = "arena.world"
    world: World


class Tick(ServerFrame, tag="tick"):
    """One tick: only what changed; absent lists are empty."""

    event: ClassVar[str] = "arena.tick"
    t: int
    e: int
    moved: list[list[int]] | UnsetType = UNSET  # [player, x, y, 1 if the tail moved else 0]
    # [player, what it hit: another player, itself (its own id), or 0 for the wall]
    died: list[list[int]] | UnsetType = UNSET
    spawned: list[ArenaSnake] | UnsetType = UNSET
    eaten: list[Cell] | UnsetType = UNSET
    food: list[Cell] | UnsetType = UNSET  # placed (topped up, or left by a crashed snake)
    scores: list[list[int]] | UnsetType = UNSET  # [player, score, kills, deaths]
    acks: list[list[int]] | UnsetType = UNSET  # [player, sequence number]
    joined: list[User] | UnsetType = UNSET  # as the world's "players"
    left: list[User] | UnsetType = UNSET
    refused: list[int] | UnsetType = UNSET  # players who asked to join a full arena


class RoundOver(ServerFrame, tag="round_over"):
    event: ClassVar[str] = "arena.over"
    round: int
    results: list[ArenaResult]
    next_in: float


class Closed(ServerFrame, tag="closed"):
    event: ClassVar[str] = "arena.closed"
    reason: str


ARENA_SERVER_FRAMES = server_frames(
    *COMMON_SERVER_FRAMES, ArenaSync, WorldFrame, Tick, RoundOver, Closed
)
