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
 */
import {ServerError, connect} from "../realtime/live.js";
import {CLIENT, CLOSE, SERVER} from "../realtime/protocol.js";
import {ArenaModel} from "./arena_model.js";

const config = JSON.parse(document.getElementById("arena-config").textContent);
const canvas = document.getElementById("arena-canvas");
const ctx = canvas.getContext("2d");
const overlay = document.getElementById("arena-overlay");
const phaseLine = document.getElementById("arena-phase");
const scoresBody = document.getElementById("arena-scores");
const playersCount = document.getElementById("arena-players");
const announcer = document.getElementById("arena-announce");
const errorLine = document.getElementById("arena-error");
const resultsBox = document.getElementById("arena-results");
const resultsList = document.getElementById("arena-results-list");
const joinButton = document.getElementById("arena-join");
const leaveButton = document.getElementById("arena-leave");

const KEYS = {
  ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right",
  w: "up", s: "down", a: "left", d: "right", W: "up", S: "down", A: "left", D: "right",
};
const PALETTE = ["#2f9e44", "#1c7ed6", "#e8590c", "#ae3ec9", "#f08c00", "#0c8599",
                 "#d6336c", "#5c940d", "#4263eb", "#c92a2a", "#862e9c", "#364fc7"];
const PHASES = {waiting: "Waiting for players", play: "Round", results: "Results"};
const SEEN_OFFSET = Math.floor(Math.random() * 10);

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
      const by = event.killer ? arena.names.get(event.killer) || "another snake" : "the wall or yourself";
      say(`You crashed into ${by}. Back in two seconds.`);
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
      showResults(frame.results);
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
  leaveButton.addEventListener("click", () => {
    act({type: CLIENT.LEAVE});
    joinButton.focus();
  });
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
  document.body.classList.toggle("arena-playing", playing);
}

function renderScores() {
  const me = arena.me;
  const rows = [...arena.names.entries()]
    .map(([id, username]) => ({id, username, ...(arena.snakes.get(id) || {score: 0, kills: 0, deaths: 0})}))
    .sort((a, b) => b.score - a.score || a.deaths - b.deaths || a.username.localeCompare(b.username));
  playersCount.textContent = rows.length;
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

function showResults(results) {
  if (!results || !results.length) {
    resultsBox.hidden = true;
    return;
  }
  resultsList.replaceChildren(
    ...results.map((r) => {
      const li = document.createElement("li");
      li.textContent = `${r.username}: ${r.score} (length ${r.length}, ${r.kills} kills, ${r.deaths} deaths)`;
      return li;
    }),
  );
  resultsBox.hidden = false;
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
  else if (world.phase === "results") cover = "Round over";
  else {
    const s = arena.mySnake();
    if (s && !s.alive) cover = `Crashed: back in ${Math.max(1, Math.ceil((s.respawnIn * world.tick_ms) / 1000))} s`;
  }
  if (overlay.textContent !== cover) overlay.textContent = cover;
  overlay.hidden = !cover;
}
setInterval(renderPhase, 250);

// ---------------------------------------------------------------- drawing

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function fitCanvas() {
  const world = arena.world;
  if (!world) return;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = Math.round((width * world.height) / world.width);
  canvas.style.height = height + "px";
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
}

function lerp(a, b, t) {
  return a + (b - a) * t;
}

function draw(now) {
  requestAnimationFrame(draw);
  const world = arena.world;
  if (!world) return;
  fitCanvas();
  const cell = canvas.width / world.width;
  ctx.fillStyle = cssVar("--empty-cell", "#f6f7f9");
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = cssVar("--line-soft", "#eee");
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

  ctx.fillStyle = cssVar("--bad", "#c0392b");
  for (const [x, y] of arena.food.values()) {
    ctx.beginPath();
    ctx.arc((x + 0.5) * cell, (y + 0.5) * cell, cell * 0.32, 0, Math.PI * 2);
    ctx.fill();
  }

  const alpha = world.phase === "play" ? Math.min(1, (now - arena.lastTickAt) / world.tick_ms) : 1;
  for (const [player, s] of arena.snakes) {
    if (!s.alive || !s.body.length) continue;
    // Others one tick behind; the viewer's own ahead, to the cell it will enter next.
    const [from, to] = arena.path(player);
    ctx.fillStyle = colours.get(player) || "#888";
    const inset = cell * 0.08;
    to.forEach((target, i) => {
      const origin = from[i] || target;
      const x = lerp(origin[0], target[0], alpha);
      const y = lerp(origin[1], target[1], alpha);
      ctx.fillRect(x * cell + inset, y * cell + inset, cell - 2 * inset, cell - 2 * inset);
    });
    if (player === arena.me.id) {
      const target = to[0];
      const origin = from[0] || target;
      ctx.strokeStyle = cssVar("--fg", "#000");
      ctx.lineWidth = Math.max(2, cell * 0.12);
      ctx.strokeRect(lerp(origin[0], target[0], alpha) * cell + inset, lerp(origin[1], target[1], alpha) * cell + inset,
                     cell - 2 * inset, cell - 2 * inset);
    }
  }
  const players = arena.names.size;
  const label = `The arena: ${players} ${players === 1 ? "player" : "players"}, ${arena.food.size} food`;
  if (canvas.getAttribute("aria-label") !== label) canvas.setAttribute("aria-label", label);
}
requestAnimationFrame(draw);
window.addEventListener("resize", fitCanvas);
