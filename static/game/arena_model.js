/*
 * A snake arena as this page knows it: the server's world as of its last tick, and the
 * viewer's own turns not yet applied. Pure: no DOM, no clock (callers pass ``now``, in
 * ms); the page (arena.js) draws it and announces what it reports.
 *
 * Reconciliation: each turn the page sends carries a sequence number; the server says
 * which it applied (``acks``, per tick and in every world). Applied turns are dropped,
 * and the page predicts from what is left; turns the server never applied are let go
 * after a few ticks. The server's word always wins: a world replaces everything, and a
 * tick's moves set where each snake is and which way it goes.
 */
import {OPPOSITE, directionOf, moved, turned} from "./snake_rules.js";

const STALE_TICKS = 4; // a turn not applied within this many ticks never will be
const WRECK_MS = 700; // how long a crashed snake's body stays on the board, fading

function snakeFrom(s) {
  return {
    body: s.body,
    prev: s.body,
    direction: s.direction,
    alive: s.alive,
    score: s.score,
    kills: s.kills,
    deaths: s.deaths,
    respawnIn: s.respawn_in,
  };
}

const key = (cell) => cell[0] + "," + cell[1];

export class ArenaModel {
  constructor() {
    this.me = {id: null, username: null};
    this.world = null; // the server's world as of the last tick
    this.snakes = new Map(); // player -> {body, prev, direction, alive, score, kills, deaths, respawnIn}
    this.food = new Map(); // "x,y" -> [x, y]
    this.names = new Map(); // player -> username
    this.lastTickAt = 0; // when the last tick (or world) came
    this.endsAt = 0; // when the round or its results end
    this.seq = 0;
    this.pending = []; // turns sent, not yet applied: {seq, dir, at}
    this.wrecks = []; // snakes that crashed lately: {player, body, at}, to fade out
    this.crash = null; // the viewer's snake is out: {killer, at} (see crashedInto)
    this.spawnedAt = null; // when the viewer's snake last came on the board
  }

  get playing() {
    return this.me.id !== null && this.names.has(this.me.id);
  }

  mySnake() {
    return this.me.id === null ? null : this.snakes.get(this.me.id);
  }

  /** The whole world (sync or world): returns whether the viewer became a player. */
  load(w, now) {
    const wasPlaying = this.playing;
    this.world = w;
    this.snakes = new Map(w.snakes.map((s) => [s.player, snakeFrom(s)]));
    this.food = new Map(w.food.map((cell) => [key(cell), cell]));
    this.names = new Map(w.players.map((p) => [p.id, p.username]));
    this.endsAt = now + w.ends_in * 1000;
    this.lastTickAt = now;
    const mine = w.acks.find(([player]) => player === this.me.id);
    this.pending = mine ? this.pending.filter((p) => p.seq > mine[1]) : [];
    this.wrecks = [];
    const snake = this.mySnake();
    if (!snake || snake.alive || w.phase !== "play") this.crash = null;
    return !wasPlaying && this.playing;
  }

  /**
   * One tick's changes. Returns null if it does not follow the world held (the server
   * resyncs the socket), else what happened, in order: [{kind: "crashed", killer}
   * (0: the wall or itself), {kind: "back"}, {kind: "ate", score}, {kind: "joined"},
   * {kind: "left"}, {kind: "refused"}, {kind: "players"} (someone joined or left),
   * {kind: "scores"}], the viewer's own first.
   */
  applyTick(t, now) {
    const world = this.world;
    if (!world || t.e !== world.epoch || t.t !== world.tick + 1) return null;
    const me = this.me.id;
    const mine = [];
    let scoresChanged = false;
    world.tick = t.t;
    this.lastTickAt = now;
    for (const s of this.snakes.values()) {
      s.prev = s.body;
      if (!s.alive && s.respawnIn > 0) s.respawnIn -= 1;
    }
    for (const [player, x, y, tailMoved] of t.moved || []) {
      const s = this.snakes.get(player);
      if (!s) continue;
      const body = [[x, y], ...s.body];
      if (tailMoved) body.pop();
      s.body = body;
      s.direction = directionOf(s.prev[0] || [x, y], [x, y]);
    }
    for (const [player, killer] of t.died || []) {
      const s = this.snakes.get(player);
      if (!s) continue;
      if (s.body.length) this.wrecks.push({player, body: s.body, at: now});
      if (player === me) this.crash = {killer, at: now};
      s.alive = false;
      s.body = [];
      s.prev = [];
      s.respawnIn = world.respawn_ticks;
      if (player === me) mine.push({kind: "crashed", killer});
    }
    for (const spawned of t.spawned || []) {
      this.snakes.set(spawned.player, snakeFrom(spawned));
      if (spawned.player === me) {
        this.crash = null;
        this.spawnedAt = now;
        mine.push({kind: "back"});
      }
    }
    for (const cell of t.eaten || []) this.food.delete(key(cell));
    for (const cell of t.food || []) this.food.set(key(cell), cell);
    for (const [player, score, kills, deaths] of t.scores || []) {
      const s = this.snakes.get(player);
      if (!s) continue;
      if (player === me && score > s.score) mine.push({kind: "ate", score});
      Object.assign(s, {score, kills, deaths});
      scoresChanged = true;
    }
    for (const [player, acked] of t.acks || []) {
      if (player === me) this.acknowledge(acked);
    }
    // A round's first tick names everyone it started with: only a new name is news.
    for (const p of t.joined || []) {
      const isNew = !this.names.has(p.id);
      this.names.set(p.id, p.username);
      if (!this.snakes.has(p.id)) {
        this.snakes.set(p.id, snakeFrom({body: [], direction: "right", alive: false, score: 0, kills: 0, deaths: 0, respawn_in: 1}));
      }
      if (isNew && p.id === me) mine.push({kind: "joined"});
      scoresChanged = true;
    }
    for (const p of t.left || []) {
      this.names.delete(p.id);
      this.snakes.delete(p.id);
      if (p.id === me) mine.push({kind: "left"});
      scoresChanged = true;
    }
    if ((t.refused || []).includes(me)) mine.push({kind: "refused"});
    const events = mine;
    if ((t.joined || []).length || (t.left || []).length) events.push({kind: "players"});
    if (scoresChanged) events.push({kind: "scores"});
    this.expire(now);
    return events;
  }

  /** What the viewer's snake crashed into, in words: a player's name, "yourself" or
   * "the wall" (null while it is not out). */
  crashedInto() {
    if (!this.crash) return null;
    const {killer} = this.crash;
    if (!killer) return "the wall";
    if (killer === this.me.id) return "yourself";
    return this.names.get(killer) || "another snake";
  }

  /** The crashed snakes still to draw at ``now``, each with how far it has faded (0
   * to 1); older ones are let go. */
  fading(now) {
    this.wrecks = this.wrecks.filter((w) => now - w.at < WRECK_MS);
    return this.wrecks.map((w) => ({...w, faded: (now - w.at) / WRECK_MS}));
  }

  /** The round ended: its results show until ``nextIn`` seconds from ``now``. */
  roundOver(frame, now) {
    if (!this.world) return;
    this.world.phase = "results";
    this.world.results = frame.results;
    this.crash = null;
    this.endsAt = now + frame.next_in * 1000;
  }

  // ------------------------------------------------------------ the viewer's turns

  /** A turn the player asks for: the frame to send, or null if it changes nothing (the
   * way it will go already, or straight back) or the viewer cannot steer now. */
  steer(dir, now) {
    const s = this.mySnake();
    if (!s || !s.alive || !this.world || this.world.phase !== "play") return null;
    const last = this.pending.length ? this.pending[this.pending.length - 1].dir : s.direction;
    if (dir === last || dir === OPPOSITE[last]) return null;
    this.seq += 1;
    this.pending.push({seq: this.seq, dir, at: now});
    return {dir, seq: this.seq};
  }

  /** The server applied every turn up to ``seq``. */
  acknowledge(seq) {
    this.pending = this.pending.filter((p) => p.seq > seq);
  }

  // Turns the server never applied (it keeps two a tick) are let go after a while.
  expire(now) {
    const stale = now - STALE_TICKS * this.world.tick_ms;
    this.pending = this.pending.filter((p) => p.at > stale);
  }

  /** The way the viewer's snake goes at the next tick, by the rule: its first turn not
   * yet applied, unless that is straight back. */
  predictedDirection() {
    const s = this.mySnake();
    if (!s) return null;
    return turned(s.direction, this.pending.length ? this.pending[0].dir : null);
  }

  /** Where a snake is drawn between ticks: [from, to] bodies. Others go from their last
   * tick to this one (one tick behind); the viewer's own, during play, from this tick
   * to the cell it will enter next (predicted), so a turn shows at once. */
  path(player) {
    const s = this.snakes.get(player);
    if (player === this.me.id && this.world && this.world.phase === "play") {
      return [s.body, moved(s.body, this.predictedDirection())];
    }
    return [s.prev, s.body];
  }
}
