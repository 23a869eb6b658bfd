/*
 * A snake arena page. The server runs the world at a fixed tick and sends each tick's
 * changes; this page draws them on a canvas at the display's frame rate.
 *
 * - Other snakes are drawn between their last two ticks (entity interpolation): smooth
 *   motion, one tick behind.
 * - Your own snake is drawn ahead, between its last tick and the cell it will enter next
 *   (client-side prediction): a key press bends it at once. Each turn carries a sequence
 *   number; the server says which it applied (acks), and the page drops those and
 *   predicts from what is left. When the server disagrees, its word wins. The world,
 *   the turns and the prediction are arena_model.js (pure), by the movement rule of
 *   snake_rules.js; this module draws and announces.
 * - Arrow keys or WASD steer; on a phone, a swipe or the buttons. What matters to you
 *   (your score, your crashes, a round's results) is announced through aria-live.
 * - Every snake carries its player's name (yours inverted, with "(you)", and a thick
 *   outline); where your snake comes on the board rings for a moment; a crashed snake
 *   fades out where it crashed, and the board says what you hit and counts down to your
 *   return. A round's end shows its podium on the board.
 * - On a phone, while you play, the arena is the whole screen (site.css sets
 *   --arena-full): the board as large as fits, the arrows beside or below it.
 */
import {ServerError, connect} from "../realtime/live.js";
import {CLIENT, CLOSE, SERVER} from "../realtime/protocol.js";
import {ArenaModel} from "./arena_model.js";

const config = JSON.parse(document.getElementById("arena-config").textContent);
const section = document.querySelector("section.arena");
const stage = document.querySelector(".arena-stage");
const canvas = document.getElementById("arena-canvas");
const ctx = canvas.getContext("2d");
const overlay = document.getElementById("arena-overlay");
const phaseLine = document.getElementById("arena-phase");
const scoresBody = document.getElementById("arena-scores");
const playersCount = document.getElementById("arena-players");
const mineLine = document.getElementById("arena-mine");
const announcer = document.getElementById("arena-announce");
const errorLine = document.getElementById("arena-error");
const resultsBox = document.getElementById("arena-results");
const resultsList = document.getElementById("arena-results-list");
const joinButton = document.getElementById("arena-join");
const leaveButton = document.getElementById("arena-leave");
const podium = document.getElementById("arena-podium");
const podiumTitle = document.getElementById("podium-title");
const podiumPlaces = document.getElementById("arena-podium-places");
const podiumYou = document.getElementById("arena-podium-you");
const podiumNext = document.getElementById("arena-podium-next");

const KEYS = {
  ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right",
  w: "up", s: "down", a: "left", d: "right", W: "up", S: "down", A: "left", D: "right",
};
const PALETTE = ["#2f9e44", "#1c7ed6", "#e8590c", "#ae3ec9", "#f08c00", "#0c8599",
                 "#d6336c", "#5c940d", "#4263eb", "#c92a2a", "#862e9c", "#364fc7"];
const PHASES = {waiting: "Waiting for players", play: "Round", results: "Results"};
const SEEN_OFFSET = Math.floor(Math.random() * 10);
const SPAWN_RING_MS = 1500; // how long the ring shows where your snake came on
const NAME_MAX = 14; // longer names are cut short on the board (the sidebar has them whole)
const PLACES = ["1st", "2nd", "3rd"];

const arena = new ArenaModel();
let colours = new Map();
let wantsToPlay = new URLSearchParams(location.search).get("play") === "1";
let joinAsked = false;
let closedReason = "";

const path = "/ws/game/arena/" + config.id + "/" + (config.code ? "?code=" + encodeURIComponent(config.code) : "");
const live = connect(path, {onFrame: handle, onClosed: closed});

// ---------------------------------------------------------------- the world

function loadWorld(w) {
  const becamePlayerNow = arena.load(w, performance.now());
  assignColours();
  fitCanvas();
  showResults(w.results);
  renderScores();
  renderPhase();
  renderButtons();
  if (becamePlayerNow && joinAsked) becamePlayer();
  if (wantsToPlay && arena.me.id !== null && !arena.playing && w.phase !== undefined) {
    wantsToPlay = false;
    join();
  }
}

function assignColours() {
  const ids = [...new Set([...arena.names.keys(), ...arena.snakes.keys()])].sort((a, b) => a - b);
  colours = new Map(ids.map((id, i) => [id, PALETTE[i % PALETTE.length]]));
}

function applyTick(t) {
  const events = arena.applyTick(t, performance.now());
  if (events === null) return; // the server resyncs us
  for (const event of events) {
    if (event.kind === "crashed") {
      const seconds = Math.round((arena.world.respawn_ticks * arena.world.tick_ms) / 1000);
      say(`You crashed into ${arena.crashedInto()}. Back in ${seconds} ${seconds === 1 ? "second" : "seconds"}.`);
      renderPhase();
    } else if (event.kind === "back") say("Your snake is back.");
    else if (event.kind === "ate") say(`You ate. Score ${event.score}.`);
    else if (event.kind === "joined") becamePlayer();
    else if (event.kind === "left") say("You left the round; you are watching.");
    else if (event.kind === "refused") showError("The arena is full; try another one.");
    else if (event.kind === "players") {
      assignColours();
      renderButtons();
    } else if (event.kind === "scores") renderScores();
  }
  // How far this page has read, once a second: each page on its own tick of the ten.
  if ((t.t + SEEN_OFFSET) % 10 === 0) live.send({type: CLIENT.SEEN, tick: t.t});
}

// ---------------------------------------------------------------- frames

function handle(frame) {
  switch (frame.type) {
    case SERVER.SYNC:
      arena.me = frame.you;
      if (frame.world) loadWorld(frame.world);
      else {
        arena.world = null;
        renderPhase();
      }
      live.send({type: CLIENT.SEEN, tick: frame.world ? frame.world.tick : 0});
      break;
    case SERVER.WORLD:
      loadWorld(frame.world);
      live.send({type: CLIENT.SEEN, tick: frame.world.tick});
      break;
    case SERVER.TICK:
      applyTick(frame);
      break;
    case SERVER.ROUND_OVER:
      arena.roundOver(frame, performance.now());
      showResults(frame.results, frame.round);
      announceResults(frame);
      renderPhase();
      break;
    case SERVER.CLOSED:
      closedReason = frame.reason;
      break;
    case SERVER.ERROR:
      showError(frame.message);
      break;
  }
}

function closed(code) {
  closedReason = closedReason || (code === CLOSE.NOT_FOUND ? "This arena has closed." : "You cannot watch this arena.");
  renderPhase();
}

// ---------------------------------------------------------------- steering

function steer(dir) {
  const turn = arena.steer(dir, performance.now());
  if (turn) live.send({type: CLIENT.TURN, ...turn});
}

// Joining and leaving: a refusal is shown; while not connected nothing is sent (the
// overlay says so). Turns and "seen" carry no ref: the ticks' acks answer turns.
function act(frame) {
  live.request(frame).catch((error) => {
    if (error instanceof ServerError) showError(error.message);
  });
}

function join() {
  if (!live.canSend) {
    // Still connecting (or reconnecting): join when the world arrives, as ?play=1 does;
    // a request now would only be refused.
    wantsToPlay = true;
    say("You will join once connected.");
    return;
  }
  joinAsked = true;
  act({type: CLIENT.JOIN});
}

function becamePlayer() {
  joinAsked = false;
  say("You joined. Steer with the arrow keys.");
  canvas.focus();
}

document.addEventListener("keydown", (event) => {
  const dir = KEYS[event.key];
  if (!dir || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  if (!arena.mySnake()) return; // watching: arrows scroll the page as usual
  event.preventDefault();
  steer(dir);
});

let touchStart = null;
canvas.addEventListener("touchstart", (event) => {
  const touch = event.changedTouches[0];
  touchStart = [touch.clientX, touch.clientY];
}, {passive: true});
canvas.addEventListener("touchmove", (event) => {
  if (arena.mySnake()) event.preventDefault(); // a swipe steers, it does not scroll
}, {passive: false});
canvas.addEventListener("touchend", (event) => {
  if (!touchStart) return;
  const touch = event.changedTouches[0];
  const dx = touch.clientX - touchStart[0];
  const dy = touch.clientY - touchStart[1];
  touchStart = null;
  if (Math.max(Math.abs(dx), Math.abs(dy)) < 20) return;
  steer(Math.abs(dx) > Math.abs(dy) ? (dx > 0 ? "right" : "left") : dy > 0 ? "down" : "up");
});
for (const button of document.querySelectorAll("#arena-pad [data-dir]")) {
  button.addEventListener("click", () => steer(button.dataset.dir));
}
if (joinButton) {
  joinButton.addEventListener("click", () => {
    join();
    canvas.focus();
  });
  for (const button of document.querySelectorAll("[data-arena-leave]")) {
    button.addEventListener("click", () => {
      act({type: CLIENT.LEAVE});
      joinButton.focus();
    });
  }
}

// ---------------------------------------------------------------- the page around it

function say(text) {
  announcer.textContent = "";
  // A fresh node each time: screen readers announce a change, not a repeat.
  setTimeout(() => (announcer.textContent = text), 30);
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (errorLine.hidden = true), 5000);
}

function renderButtons() {
  if (!joinButton) return;
  const playing = arena.playing;
  joinButton.hidden = playing;
  leaveButton.hidden = !playing;
  if (document.body.classList.contains("arena-playing") !== playing) {
    document.body.classList.toggle("arena-playing", playing);
    measure();
  }
}

function renderScores() {
  const me = arena.me;
  const rows = [...arena.names.entries()]
    .map(([id, username]) => ({id, username, ...(arena.snakes.get(id) || {score: 0, kills: 0, deaths: 0})}))
    .sort((a, b) => b.score - a.score || a.deaths - b.deaths || a.username.localeCompare(b.username));
  playersCount.textContent = rows.length;
  // Your line of the scores, for the phone's full screen (no sidebar there).
  const place = rows.findIndex((row) => row.id === me.id);
  mineLine.textContent = place < 0 ? "" : `You: ${plural(rows[place].score, "point")}, ${place + 1} of ${rows.length}`;
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 4;
    td.className = "empty";
    td.textContent = "No players yet.";
    tr.append(td);
    scoresBody.replaceChildren(tr);
    return;
  }
  scoresBody.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      if (row.id === me.id) tr.className = "me";
      const name = document.createElement("td");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colours.get(row.id) || "#888";
      name.append(swatch, row.username + (row.id === me.id ? " (you)" : ""));
      tr.append(name);
      for (const value of [row.score, row.kills, row.deaths]) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.append(td);
      }
      return tr;
    }),
  );
}

function plural(n, word, words = word + "s") {
  return `${n} ${n === 1 ? word : words}`;
}

function showResults(results, round = arena.world && arena.world.round) {
  if (!results || !results.length) {
    resultsBox.hidden = true;
    podium.hidden = true;
    return;
  }
  resultsList.replaceChildren(
    ...results.map((r) => {
      const li = document.createElement("li");
      li.textContent = `${r.username}: ${plural(r.score, "point")} (length ${r.length}, ${plural(r.kills, "kill")}, ${plural(r.deaths, "crash", "crashes")}).`;
      return li;
    }),
  );
  resultsBox.hidden = false;
  renderPodium(results, round);
}

// The round's end on the board: its best three on a podium, and where you placed.
function renderPodium(results, round) {
  podiumTitle.textContent = `Round ${round} over`;
  podiumPlaces.replaceChildren(
    ...results.slice(0, 3).map((r, i) => {
      const li = document.createElement("li");
      li.className = "place-" + (i + 1);
      const name = document.createElement("span");
      name.className = "podium-name";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colours.get(r.player) || "#888";
      name.append(swatch, r.username + (r.player === arena.me.id ? " (you)" : ""));
      const stat = document.createElement("span");
      stat.className = "podium-stat";
      stat.textContent = `length ${r.length} · ${plural(r.score, "point")}`;
      const block = document.createElement("span");
      block.className = "podium-block";
      block.textContent = PLACES[i];
      li.append(name, stat, block);
      return li;
    }),
  );
  const mine = results.findIndex((r) => r.player === arena.me.id);
  podiumYou.textContent = mine >= 3 ? `You placed ${mine + 1} of ${results.length}, length ${results[mine].length}.` : "";
  podiumYou.hidden = mine < 3;
  podium.hidden = false;
}

function announceResults(frame) {
  const [best] = frame.results;
  let text = `Round ${frame.round} over.`;
  if (best) text += ` ${best.username} won with ${best.score}.`;
  const mine = frame.results.findIndex((r) => r.player === arena.me.id);
  if (mine >= 0) text += ` You placed ${mine + 1} of ${frame.results.length} with ${frame.results[mine].score}.`;
  say(text);
}

function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

let shownCover = null;
function renderPhase() {
  const world = arena.world;
  let text = "";
  if (world) {
    const left = (arena.endsAt - performance.now()) / 1000;
    if (world.phase === "play") text = `Round ${world.round} · ${clock(left)} left`;
    else if (world.phase === "results") text = `Round ${world.round} over · next in ${clock(left)}`;
    else text = PHASES.waiting;
  }
  if (phaseLine.textContent !== text) phaseLine.textContent = text;
  let cover = "";
  if (closedReason) cover = closedReason;
  else if (live.state !== "connected") cover = live.state === "offline" ? "Offline: paused" : "Reconnecting… (paused)";
  else if (!world) cover = "Starting the arena…";
  else if (world.phase === "waiting") cover = arena.me.id ? "Waiting for players: join to start a round" : "Waiting for players";
  else if (world.phase === "results") cover = podium.hidden ? "Round over" : "";
  else {
    const s = arena.mySnake();
    const into = arena.crashedInto();
    if (s && !s.alive && into) {
      const back = Math.max(1, Math.ceil((s.respawnIn * world.tick_ms) / 1000));
      cover = [`You crashed into ${into}.`, `Back in ${back}`];
    }
  }
  const next = world && world.phase === "results" ? `Next round in ${clock((arena.endsAt - performance.now()) / 1000)}` : "";
  if (podiumNext.textContent !== next) podiumNext.textContent = next;
  // A crash: what you hit, and a countdown, large.
  const lines = Array.isArray(cover) ? cover : [cover];
  const coverText = lines.join(" ");
  if (shownCover !== coverText) {
    shownCover = coverText;
    overlay.classList.toggle("crashed", lines.length > 1);
    overlay.replaceChildren(
      ...lines.map((line, i) => {
        const span = document.createElement("span");
        span.className = i ? "arena-countdown" : "arena-cause";
        span.textContent = line;
        return span;
      }),
    );
  }
  overlay.hidden = !coverText;
}
setInterval(renderPhase, 250);

// ---------------------------------------------------------------- drawing

// Colours from the page's scheme, read once (and again when the scheme changes), not
// every frame.
let theme = {};
function readTheme() {
  const style = getComputedStyle(document.documentElement);
  const get = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  theme = {
    empty: get("--empty-cell", "#f6f7f9"), line: get("--line-soft", "#eee"), food: get("--bad", "#c0392b"),
    fg: get("--fg", "#000"), card: get("--card", "#fff"),
  };
}
readTheme();
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", readTheme);

// Names on the board: each label's width is measured once per text and font.
const labelWidths = new Map();

// Whether the board is fitted in both directions (the whole screen, while playing on a
// phone: site.css says so with --arena-full) or to the width only; set on a resize
// or when you join or leave, not every frame.
let fitBoth = false;
function measure() {
  fitBoth = getComputedStyle(section).getPropertyValue("--arena-full").trim() === "1";
  fitCanvas();
}

function fitCanvas() {
  const world = arena.world;
  if (!world) return;
  const border = 2; // the canvas's border, inside its CSS size
  const width = stage.clientWidth - border;
  const height = fitBoth ? stage.clientHeight - border : Infinity;
  const cell = Math.max(1, Math.min(width / world.width, height / world.height));
  const cssWidth = cell * world.width;
  const cssHeight = cell * world.height;
  // Fitted to the width only, the canvas keeps CSS's 100% (a width in px here would hold
  // its column open when the page narrows).
  canvas.style.width = fitBoth ? cssWidth + border + "px" : "";
  canvas.style.height = cssHeight + border + "px";
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(cssWidth * ratio) || canvas.height !== Math.round(cssHeight * ratio)) {
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
    labelWidths.clear(); // the label font follows the cell size
  }
}
new ResizeObserver(fitCanvas).observe(stage);
window.addEventListener("resize", measure);
measure();

function lerp(a, b, t) {
  return a + (b - a) * t;
}

function labelWidth(text) {
  let width = labelWidths.get(text);
  if (width === undefined) {
    width = ctx.measureText(text).width;
    labelWidths.set(text, width);
  }
  return width;
}
const shortNames = new Map();
function shortName(name) {
  let short = shortNames.get(name);
  if (short === undefined) {
    short = name.length > NAME_MAX ? name.slice(0, NAME_MAX - 1) + "…" : name;
    shortNames.set(name, short);
  }
  return short;
}

function drawLabel(text, size, cx, top, bottom, cell, mine) {
  const width = labelWidth(text);
  const pad = size * 0.3;
  const height = size * 1.35;
  // Above the head, or below it at the top edge; never off the board.
  let y = top - height - cell * 0.15;
  if (y < 0) y = bottom + cell * 0.15;
  const x = Math.min(Math.max(0, cx - width / 2 - pad), canvas.width - width - 2 * pad);
  ctx.globalAlpha = mine ? 1 : 0.85;
  ctx.fillStyle = mine ? theme.fg : theme.card;
  ctx.fillRect(x, y, width + 2 * pad, height);
  ctx.globalAlpha = 1;
  ctx.fillStyle = mine ? theme.card : theme.fg;
  ctx.fillText(text, x + pad, y + height / 2);
}

function draw(now) {
  requestAnimationFrame(draw);
  const world = arena.world;
  if (!world) return;
  const cell = canvas.width / world.width;
  ctx.fillStyle = theme.empty;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = theme.line;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let x = 1; x < world.width; x++) {
    ctx.moveTo(x * cell, 0);
    ctx.lineTo(x * cell, canvas.height);
  }
  for (let y = 1; y < world.height; y++) {
    ctx.moveTo(0, y * cell);
    ctx.lineTo(canvas.width, y * cell);
  }
  ctx.stroke();

  ctx.fillStyle = theme.food;
  for (const [x, y] of arena.food.values()) {
    ctx.beginPath();
    ctx.arc((x + 0.5) * cell, (y + 0.5) * cell, cell * 0.32, 0, Math.PI * 2);
    ctx.fill();
  }

  // Crashed snakes fade and shrink where they crashed.
  for (const wreck of arena.fading(now)) {
    ctx.globalAlpha = 0.8 * (1 - wreck.faded);
    ctx.fillStyle = colours.get(wreck.player) || "#888";
    const inset = cell * (0.08 + 0.3 * wreck.faded);
    for (const [x, y] of wreck.body) ctx.fillRect(x * cell + inset, y * cell + inset, cell - 2 * inset, cell - 2 * inset);
  }
  ctx.globalAlpha = 1;

  const alpha = world.phase === "play" ? Math.min(1, (now - arena.lastTickAt) / world.tick_ms) : 1;
  const heads = [];
  for (const [player, s] of arena.snakes) {
    if (!s.alive || !s.body.length) continue;
    // Others one tick behind; the viewer's own ahead, to the cell it will enter next.
    const [from, to] = arena.path(player);
    const mine = player === arena.me.id;
    const cells = to.map((target, i) => {
      const origin = from[i] || target;
      return [lerp(origin[0], target[0], alpha), lerp(origin[1], target[1], alpha)];
    });
    if (mine) {
      // Yours: a thick outline in the text colour around every cell.
      ctx.fillStyle = theme.fg;
      for (const [x, y] of cells) ctx.fillRect(x * cell, y * cell, cell, cell);
    }
    ctx.fillStyle = colours.get(player) || "#888";
    const inset = cell * (mine ? 0.2 : 0.08);
    for (const [x, y] of cells) ctx.fillRect(x * cell + inset, y * cell + inset, cell - 2 * inset, cell - 2 * inset);
    heads.push([player, cells[0], mine]);
  }

  // Where your snake came on: rings spreading from its head for a moment.
  const sinceSpawn = arena.spawnedAt === null ? Infinity : now - arena.spawnedAt;
  const myHead = heads.find(([, , mine]) => mine);
  if (myHead && sinceSpawn < SPAWN_RING_MS) {
    const [x, y] = myHead[1];
    ctx.strokeStyle = theme.fg;
    ctx.lineWidth = Math.max(2, cell * 0.12);
    for (const offset of [0, 0.35]) {
      const t = (sinceSpawn / SPAWN_RING_MS + offset) % 1;
      ctx.globalAlpha = 1 - t;
      ctx.beginPath();
      ctx.arc((x + 0.5) * cell, (y + 0.5) * cell, cell * (0.8 + 3 * t), 0, Math.PI * 2);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  // Names over the heads, yours last (on top).
  const ratio = window.devicePixelRatio || 1;
  const size = Math.round(Math.max(10, Math.min(14, (cell / ratio) * 0.9)) * ratio);
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  heads.sort((a, b) => a[2] - b[2]);
  const labels = [];
  for (const [player, [x, y], mine] of heads) {
    const name = shortName(arena.names.get(player) || "?");
    const text = mine ? name + " (you)" : name;
    drawLabel(text, size, (x + 0.5) * cell, y * cell, (y + 1) * cell, cell, mine);
    labels.push(text);
  }
  // What the board shows, for tests and tools (the canvas itself is one image).
  const drawn = labels.join("|");
  if (canvas.dataset.labels !== drawn) canvas.dataset.labels = drawn;

  const players = arena.names.size;
  const label = `The arena: ${players} ${players === 1 ? "player" : "players"}, ${arena.food.size} food`;
  if (canvas.getAttribute("aria-label") !== label) canvas.setAttribute("aria-label", label);
}
requestAnimationFrame(draw);
