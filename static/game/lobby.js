/* The game lobby: snake arenas, open Connect Four games and games in progress, live;
 * quick play, create, join. */
import {ServerError, connect} from "../realtime/live.js";
import {CLIENT, SERVER} from "../realtime/protocol.js";
import {button} from "./buttons.js";

const waitingList = document.getElementById("waiting");
const playingList = document.getElementById("playing");
const onlineCount = document.getElementById("players-online");
const errorLine = document.getElementById("lobby-error");
const arenaList = document.getElementById("arenas");
const games = new Map(); // id -> summary
const arenas = new Map(); // id -> arena summary
let me = null;

const live = connect("/ws/game/lobby/", {onFrame: handle});

// An action: its refusal is shown; while not connected nothing is sent (the live badge
// says why). A reply of its own (joined) is handled with the other frames.
function act(frame) {
  live.request(frame).catch((error) => {
    if (error instanceof ServerError) showError(error.message);
  });
}


function item(game) {
  const li = document.createElement("li");
  li.dataset.id = game.id;
  const text = document.createElement("span");
  const names = game.players.length === 2 ? game.players.join(" vs ") : game.players[0] + " is waiting";
  text.textContent = "#" + game.id + " " + names;
  if (game.status === "active") {
    text.textContent += " · " + game.spectators + " watching";
  }
  li.append(text);
  const mine = me && game.players.includes(me.username);
  const controls = document.createElement("span");
  if (game.status === "waiting" && me && !mine) {
    controls.append(button("Join", () => act({type: CLIENT.JOIN, id: game.id})));
  } else if (game.status === "waiting" && mine) {
    const open = document.createElement("a");
    open.href = game.url;
    open.textContent = "Open";
    controls.append(open, " ", button("Cancel", () => act({type: CLIENT.CANCEL, id: game.id}), "link"));
  } else {
    const watch = document.createElement("a");
    watch.href = game.url;
    watch.textContent = mine ? "Play" : "Watch";
    controls.append(watch);
  }
  li.append(controls);
  return li;
}

function render() {
  for (const [list, status, empty] of [
    [waitingList, "waiting", "No open games. Press “Quick play” to start one."],
    [playingList, "active", "No games in progress."],
  ]) {
    const shown = [...games.values()].filter((g) => g.status === status).sort((a, b) => a.id - b.id);
    if (shown.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = empty;
      list.replaceChildren(li);
    } else {
      list.replaceChildren(...shown.map(item));
    }
  }
}

const PHASES = {waiting: "waiting for players", play: "round in play", results: "round results"};

function arenaItem(arena) {
  const li = document.createElement("li");
  li.dataset.id = arena.id;
  const text = document.createElement("span");
  const players = arena.players === 1 ? "1 player" : arena.players + " players";
  text.textContent = `${arena.name} · ${players} of ${arena.max} · ${arena.spectators} watching · ${PHASES[arena.phase] || arena.phase}`;
  const link = document.createElement("a");
  link.href = arena.url;
  link.textContent = me && arena.players < arena.max ? "Play" : "Watch";
  link.setAttribute("aria-label", `${link.textContent} in ${arena.name}`);
  li.append(text, link);
  return li;
}

function renderArenas() {
  const shown = [...arenas.values()].sort((a, b) => b.players - a.players || b.id - a.id);
  if (shown.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "No open arenas. Press “Play snake” to open one.";
    arenaList.replaceChildren(li);
  } else {
    arenaList.replaceChildren(...shown.map(arenaItem));
  }
}

function showOnline(count) {
  onlineCount.textContent = count + (count === 1 ? " player" : " players");
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
  setTimeout(() => (errorLine.hidden = true), 6000);
}

function handle(frame) {
  switch (frame.type) {
    case SERVER.SYNC:
      me = frame.me;
      games.clear();
      for (const g of [...frame.waiting, ...frame.playing]) games.set(g.id, g);
      arenas.clear();
      for (const a of frame.arenas) arenas.set(a.id, a);
      showOnline(frame.online);
      render();
      renderArenas();
      break;
    case SERVER.ARENA:
      arenas.set(frame.arena.id, frame.arena);
      renderArenas();
      break;
    case SERVER.ARENA_REMOVED:
      arenas.delete(frame.id);
      renderArenas();
      break;
    case SERVER.ARENA_JOINED: {
      // The arena page joins at once when asked to (?play=1).
      const url = new URL(frame.invite_url || frame.arena.url, location.href);
      url.searchParams.set("play", "1");
      location.href = url.pathname + url.search;
      break;
    }
    case SERVER.GAME: {
      const known = games.get(frame.game.id);
      // Spectator counts arrive on their own; keep the one we have.
      if (known && frame.game.spectators === 0) frame.game.spectators = known.spectators;
      games.set(frame.game.id, frame.game);
      render();
      break;
    }
    case SERVER.GAME_REMOVED:
      games.delete(frame.id);
      render();
      break;
    case SERVER.SPECTATORS: {
      const known = games.get(frame.id);
      if (known) {
        known.spectators = frame.count;
        render();
      }
      break;
    }
    case SERVER.ONLINE:
      showOnline(frame.count);
      break;
    case SERVER.JOINED:
      location.href = frame.invite_url || frame.game.url;
      break;
    case SERVER.ERROR:
      showError(frame.message);
      break;
  }
}

const quick = document.getElementById("quick-play");
if (quick) {
  quick.addEventListener("click", () => act({type: CLIENT.QUICK_PLAY}));
  document.getElementById("create-public").addEventListener("click", () => act({type: CLIENT.CREATE}));
  document.getElementById("create-private").addEventListener("click", () => act({type: CLIENT.CREATE, private: true}));
  document.getElementById("arena-quick-play").addEventListener("click", () => act({type: CLIENT.ARENA_QUICK_PLAY}));
  document.getElementById("arena-create").addEventListener("click", () => act({type: CLIENT.ARENA_CREATE}));
  document
    .getElementById("arena-create-private")
    .addEventListener("click", () => act({type: CLIENT.ARENA_CREATE, private: true}));
}
