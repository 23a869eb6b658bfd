"""Snake arena rules: a shared grid, one snake per player, food, collisions, scores.

Pure: no Django, no I/O, no clock, no global randomness. ``step(state, turns)`` moves
the world one tick; the same state and the same turns always give the same next state
(the random number generator is part of the state), so a snapshot plus the inputs
logged since replays to exactly the state the server reached (``replay``). The arena
runtime (``game.arena``) uses that to take an arena over after its owner died, and to
give a joining socket the current state.

A tick, in order:
1. each living snake takes its player's turn for this tick, unless it reverses onto
   itself (ignored);
2. every head moves one cell; a head on food eats it (the tail stays: it grows);
3. a head off the grid, on any body (its own included, as the bodies are after the
   move: a tail that moves away frees its cell), or on another head dies; the owner of
   the body it hit is credited with a kill (both, in a head-on crash);
4. a dead snake leaves the grid, and food on every ``leftovers``-th cell it had (free
   ones): something to race for where a snake crashed; it comes back ``respawn_ticks``
   later, on free cells;
5. food is topped up on free cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Cell = tuple[int, int]

UP, DOWN, LEFT, RIGHT = "up", "down", "left", "right"
STEPS: dict[str, Cell] = {UP: (0, -1), DOWN: (0, 1), LEFT: (-1, 0), RIGHT: (1, 0)}
OPPOSITE = {UP: DOWN, DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}
DIRECTIONS = tuple(STEPS)

_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class Config:
    width: int = 40
    height: int = 28
    # Food on the grid: this many, plus ``food_per_player`` for each player. (12 + 1 a
    # player keeps about one item per 60 cells with two players: always something near.)
    food: int = 12
    respawn_ticks: int = 20
    start_length: int = 3
    food_per_player: int = 1
    leftovers: int = 2  # a crashed snake leaves food on every this-many-th cell (0: none)


@dataclass(frozen=True)
class Snake:
    player: int
    body: tuple[Cell, ...] = ()  # head first; empty while dead
    direction: str = RIGHT
    alive: bool = False
    grow: int = 0  # cells still to grow: the tail stays put this many ticks
    respawn_at: int = 0  # the tick a dead snake comes back
    score: int = 0  # food eaten this round
    kills: int = 0
    deaths: int = 0
    last_length: int = 0  # its length when it last crashed (a dead snake's in results)

    @property
    def length(self) -> int:
        """Its length now, or, while it is out, the length it had when it crashed."""
        return len(self.body) if self.alive else self.last_length


@dataclass(frozen=True)
class State:
    config: Config
    tick: int = 0
    rng: int = 0
    snakes: tuple[Snake, ...] = ()  # ordered by player
    food: tuple[Cell, ...] = ()  # ordered

    def snake(self, player: int) -> Snake | None:
        for snake in self.snakes:
            if snake.player == player:
                return snake
        return None


@dataclass(frozen=True)
class TickInputs:
    """Everything a tick applies: players who joined and left before it, then turns."""

    turns: Mapping[int, str] = field(default_factory=dict)
    joins: tuple[int, ...] = ()
    leaves: tuple[int, ...] = ()


@dataclass(frozen=True)
class Events:
    """What a step changed: enough for a client holding the previous state to reach the
    new one (the arena's per-tick delta)."""

    moved: tuple[tuple[int, Cell, bool], ...] = ()  # player, new head, tail dropped
    # player, what it hit: another player (credited with a kill), itself (its own id),
    # or 0 for the wall.
    died: tuple[tuple[int, int], ...] = ()
    spawned: tuple[Snake, ...] = ()
    eaten: tuple[Cell, ...] = ()
    placed: tuple[Cell, ...] = ()
    turned: tuple[int, ...] = ()  # players whose turn this tick was applied


def new_state(*, seed: int, config: Config | None = None, players: Iterable[int] = ()) -> State:
    """An empty grid; each player enters at the first tick."""
    state = State(config=config or Config(), rng=seed & _MASK)
    for player in players:
        state = join(state, player)
    return state


def join(state: State, player: int) -> State:
    """Add ``player``: their snake appears on the next tick. Joining twice changes nothing."""
    if state.snake(player) is not None:
        return state
    snake = Snake(player=player, respawn_at=state.tick + 1)
    return replace(state, snakes=tuple(sorted((*state.snakes, snake), key=_by_player)))


def leave(state: State, player: int) -> State:
    return replace(state, snakes=tuple(s for s in state.snakes if s.player != player))


def step(state: State, turns: Mapping[int, str]) -> State:
    return advance(state, turns)[0]


def play(state: State, inputs: TickInputs) -> tuple[State, Events]:
    """One tick with its joins and leaves: what the arena runs and what ``replay`` repeats."""
    for player in inputs.leaves:
        state = leave(state, player)
    for player in inputs.joins:
        state = join(state, player)
    return advance(state, inputs.turns)


def replay(state: State, log: Iterable[TickInputs]) -> State:
    for inputs in log:
        state = play(state, inputs)[0]
    return state


def advance(state: State, turns: Mapping[int, str]) -> tuple[State, Events]:
    config = state.config
    tick = state.tick + 1
    food = set(state.food)
    living = [s for s in state.snakes if s.alive]

    # 1-2: turn, move; what each body will be after the move.
    heads: dict[int, Cell] = {}
    directions: dict[int, str] = {}
    eats: dict[int, bool] = {}
    kept: dict[int, tuple[Cell, ...]] = {}
    turned: list[int] = []
    for snake in living:
        direction = snake.direction
        wanted = turns.get(snake.player)
        if wanted in STEPS and wanted != OPPOSITE[direction]:
            direction = wanted
            turned.append(snake.player)
        dx, dy = STEPS[direction]
        x, y = snake.body[0]
        head = (x + dx, y + dy)
        heads[snake.player] = head
        directions[snake.player] = direction
        eats[snake.player] = head in food
        keeps_tail = snake.grow > 0 or eats[snake.player]
        kept[snake.player] = snake.body if keeps_tail else snake.body[:-1]

    # 3: collisions, against the bodies as they are after the move.
    owner: dict[Cell, int] = {}
    for player, body in kept.items():
        for cell in body:
            owner[cell] = player
    head_count: dict[Cell, list[int]] = {}
    for player, head in heads.items():
        head_count.setdefault(head, []).append(player)
    died: dict[int, int] = {}
    for player, head in heads.items():
        x, y = head
        if not (0 <= x < config.width and 0 <= y < config.height):
            died[player] = 0
        elif head in owner:
            died[player] = owner[head]
        elif len(head_count[head]) > 1:
            others = [p for p in head_count[head] if p != player]
            died[player] = others[0]

    kills: dict[int, int] = {}
    for player, killer in died.items():
        if killer and killer != player:
            kills[killer] = kills.get(killer, 0) + 1

    moved: list[tuple[int, Cell, bool]] = []
    eaten: list[Cell] = []
    wrecks: list[Cell] = []  # cells crashed snakes had, in order
    snakes: list[Snake] = []
    for snake in state.snakes:
        player = snake.player
        extra_kills = kills.get(player, 0)
        if player in died:
            if config.leftovers > 0:
                wrecks.extend(snake.body[:: config.leftovers])
            snakes.append(
                replace(
                    snake,
                    body=(),
                    alive=False,
                    grow=0,
                    respawn_at=tick + config.respawn_ticks,
                    deaths=snake.deaths + 1,
                    kills=snake.kills + extra_kills,
                    last_length=len(snake.body),
                )
            )
        elif player in heads:
            head = heads[player]
            ate = eats[player]
            if ate:
                food.discard(head)
                eaten.append(head)
            grow = snake.grow + (1 if ate else 0)
            keeps_tail = grow > 0
            moved.append((player, head, not keeps_tail))
            snakes.append(
                replace(
                    snake,
                    body=(head, *kept[player]),
                    direction=directions[player],
                    grow=grow - 1 if keeps_tail else 0,
                    score=snake.score + (1 if ate else 0),
                    kills=snake.kills + extra_kills,
                )
            )
        else:
            snakes.append(replace(snake, kills=snake.kills + extra_kills))

    # 4: the crashed leave food where they were (on cells no body took), and the dead
    # whose time has come are back, on free cells.
    occupied = {cell for snake in snakes for cell in snake.body} | food
    placed_food: list[Cell] = []
    for cell in wrecks:
        if cell not in occupied:
            occupied.add(cell)
            food.add(cell)
            placed_food.append(cell)
    rng = state.rng
    spawned: list[Snake] = []
    for index, snake in enumerate(snakes):
        if snake.alive or snake.respawn_at > tick:
            continue
        rng, placed = _spawn_cell(rng, config, occupied)
        if placed is None:
            continue  # the grid is full: try again next tick
        cell, direction = placed
        occupied.add(cell)
        snake = replace(
            snake, body=(cell,), direction=direction, alive=True, grow=config.start_length - 1
        )
        snakes[index] = snake
        spawned.append(snake)

    # 5: food, topped up.
    food_wanted = config.food + len(snakes) * config.food_per_player
    while len(food) < food_wanted:
        rng, free = _free_cell(rng, config, occupied)
        if free is None:
            break
        occupied.add(free)
        food.add(free)
        placed_food.append(free)

    new = State(config=config, tick=tick, rng=rng, snakes=tuple(snakes), food=tuple(sorted(food)))
    events = Events(
        moved=tuple(moved),
        died=tuple(sorted(died.items())),
        spawned=tuple(spawned),
        eaten=tuple(eaten),
        placed=tuple(placed_food),
        turned=tuple(turned),
    )
    return new, events


def score_changes(before: State, after: State) -> list[list[int]]:
    """[player, score, kills, deaths] of each snake whose tally differs from ``before``
    (or that is new): the scores part of a tick's delta."""
    old = {s.player: (s.score, s.kills, s.deaths) for s in before.snakes}
    return [
        [s.player, s.score, s.kills, s.deaths]
        for s in after.snakes
        if old.get(s.player) != (s.score, s.kills, s.deaths)
    ]


def _by_player(snake: Snake) -> int:
    return snake.player


def _random(rng: int) -> tuple[int, int]:
    """splitmix64: the next generator state and a 64-bit number."""
    rng = (rng + 0x9E3779B97F4A7C15) & _MASK
    z = rng
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return rng, z ^ (z >> 31)


def _free_cell(rng: int, config: Config, occupied: set[Cell]) -> tuple[int, Cell | None]:
    # A few random tries (the grid is mostly free), then a pick among every free cell.
    for _ in range(16):
        rng, number = _random(rng)
        cell = (number % config.width, (number // config.width) % config.height)
        if cell not in occupied:
            return rng, cell
    free = [
        (x, y) for y in range(config.height) for x in range(config.width) if (x, y) not in occupied
    ]
    if not free:
        return rng, None
    rng, number = _random(rng)
    return rng, free[number % len(free)]


def _spawn_cell(
    rng: int, config: Config, occupied: set[Cell]
) -> tuple[int, tuple[Cell, str] | None]:
    """A free cell with room ahead (facing the farther side wall), else any free cell."""
    for _ in range(16):
        rng, cell = _free_cell(rng, config, occupied)
        if cell is None:
            return rng, None
        direction = RIGHT if cell[0] < config.width // 2 else LEFT
        dx, _dy = STEPS[direction]
        ahead = [(cell[0] + dx * i, cell[1]) for i in range(1, config.start_length + 1)]
        if all(0 <= x < config.width and (x, y) not in occupied for x, y in ahead):
            return rng, (cell, direction)
    rng, cell = _free_cell(rng, config, occupied)
    if cell is None:
        return rng, None
    return rng, (cell, RIGHT if cell[0] < config.width // 2 else LEFT)


# ------------------------------------------------------------------ stored form


def state_to_dict(state: State) -> dict[str, Any]:
    """A JSON-ready form of the state (snapshots in Redis, the sync frame)."""
    return {
        "config": {
            "width": state.config.width,
            "height": state.config.height,
            "food": state.config.food,
            "respawn_ticks": state.config.respawn_ticks,
            "start_length": state.config.start_length,
            "food_per_player": state.config.food_per_player,
            "leftovers": state.config.leftovers,
        },
        "tick": state.tick,
        "rng": str(state.rng),  # 64 bits: too wide for a JavaScript number
        "snakes": [
            {
                "player": s.player,
                "body": [list(cell) for cell in s.body],
                "direction": s.direction,
                "alive": s.alive,
                "grow": s.grow,
                "respawn_at": s.respawn_at,
                "score": s.score,
                "kills": s.kills,
                "deaths": s.deaths,
                "last_length": s.last_length,
            }
            for s in state.snakes
        ],
        "food": [list(cell) for cell in state.food],
    }


def state_from_dict(data: Mapping[str, Any]) -> State:
    return State(
        # (A snapshot of an older version lacks the newer fields: their defaults.)
        config=Config(**data["config"]),
        tick=int(data["tick"]),
        rng=int(data["rng"]),
        snakes=tuple(
            Snake(
                player=s["player"],
                body=tuple((x, y) for x, y in s["body"]),
                direction=s["direction"],
                alive=s["alive"],
                grow=s["grow"],
                respawn_at=s["respawn_at"],
                score=s["score"],
                kills=s["kills"],
                deaths=s["deaths"],
                last_length=s.get("last_length", 0),
            )
            for s in data["snakes"]
        ),
        food=tuple((x, y) for x, y in data["food"]),
    )


def inputs_to_list(inputs: TickInputs) -> list[Any]:
    """[turns, joins, leaves]: a tick's log entry (turn keys are strings in JSON)."""
    return [{str(p): d for p, d in inputs.turns.items()}, list(inputs.joins), list(inputs.leaves)]


def inputs_from_list(data: list[Any]) -> TickInputs:
    turns, joins, leaves = data
    return TickInputs(
        turns={int(p): d for p, d in turns.items()}, joins=tuple(joins), leaves=tuple(leaves)
    )
