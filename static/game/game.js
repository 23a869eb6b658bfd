/*
 * A Connect Four game page: the board from the server's state (by version), keyboard
 * and pointer controls, the actions a player has, and announcements for screen readers.
 */
import {ServerError, connect} from "../realtime/live.js";
import {CLIENT, CLOSE, SERVER} from "../realtime/protocol.js";
import {button} from "./buttons.js";
import {COLUMNS, ROWS, boardAt, nextMoves, replayWords, stepFor, winningWords} from "./replay.js";

const REASONS = {
  four: "four in a row",
  full: "the board is full",
  agreed: "draw agreed",
  resigned: "resignation",
  abandoned: "the opponent left",
  staff: "ended by staff",
  cancelled: "cancelled",
};

const config = JSON.parse(document.getElementById("game-config").textContent);
const boardEl = document.getElementById("board");
const statusEl = document.getElementById("status");
const playersEl = document.getElementById("players");
const playersLine = document.getElementById("players-line");
const spectatorsEl = document.getElementById("spectators");
const actionsEl = document.getElementById("actions");
const errorEl = document.getElementById("game-error");
const noteEl = document.getElementById("game-note");
const inviteBox = document.getElementById("invite");
const moveListEl = document.getElementById("move-list");
const noMovesEl = document.getElementById("no-moves");
const replayEl = document.getElementById("replay");
const replayStatusEl = document.getElementById("replay-status");

let game = null; // the newest state
let you = {number: null, username: null};
let cursor = 3;
let flashTimer = null;
let confirmingResign = false;
let resignTimer = null;
let wasMyTurn = false;
let moves = []; // the columns played, in order
let replayAt = null; // the move a finished game's replay shows (null: the final position)
const baseTitle = document.title;
// Touch screens have no cursor to move: no "column 4 selected", and tap help.
const touch = window.matchMedia("(pointer: coarse)").matches;
const soundToggle = document.getElementById("turn-sound");
const soundLine = document.querySelector(".game-sound");
const helpEl = document.getElementById("board-help");

const path = "/ws/game/" + config.id + "/" + (config.code ? "?code=" + encodeURIComponent(config.code) : "");
const live = connect(path, {onFrame: handle, onClosed: closed});

function name(number) {
  const player = game && game.players[number - 1];
  return player ? player.username : "…";
}

function myTurn() {
  return game && game.status === "active" && you.number !== null && game.turn === you.number;
}

function statusText() {
  if (!game) return "Loading…";
  if (game.status === "waiting") {
    return you.number ? "Waiting for an opponent to join…" : name(1) + " is waiting for an opponent.";
  }
  if (game.status === "aborted") return "This game was " + (game.reason === "cancelled" ? "cancelled." : "aborted by staff.");
  if (game.status === "finished") {
    const why = REASONS[game.reason] || game.reason;
    if (!game.winner) return "Draw (" + why + ").";
    if (game.reason === "four") {
      const where = winningWords(game.lines);
      return (you.number === game.winner ? "You win: " : name(game.winner) + " wins: ") + where + ".";
    }
    if (you.number === game.winner) return "You win (" + why + ")!";
    return name(game.winner) + " wins (" + why + ").";
  }
  let text = myTurn() ? (touch ? "Your turn." : "Your turn: column " + (cursor + 1) + " selected.") : name(game.turn) + " to move.";
  if (game.draw_offer) {
    text += game.draw_offer === you.number ? " You offered a draw." : " " + name(game.draw_offer) + " offers a draw.";
  }
  return text;
}

// A finished game (or one stopped by staff) with moves can be replayed move by move.
function replayable() {
  return Boolean(game && (game.status === "finished" || game.status === "aborted") && moves.length);
}

function shownMove() {
  return replayAt === null ? moves.length : replayAt;
}

function renderBoard() {
  // In a replay, the board at that move; the winning four is marked on the final one.
  const replaying = replayable() && shownMove() < moves.length;
  const view = replaying ? boardAt(moves, shownMove()) : {board: game ? game.board : null, last: game && game.last};
  const winning = new Set((game && !replaying ? game.line : []).map(([r, c]) => r + "," + c));
  const last = view.last ? view.last.join(",") : null;
  boardEl.classList.toggle("won", winning.size > 0);
  boardEl.setAttribute(
    "aria-label",
    myTurn() || (game && game.status === "active" && you.number) ? "Connect Four board: choose a column" : "Connect Four board",
  );
  const columns = [];
  for (let c = 0; c < COLUMNS; c++) {
    const column = document.createElement("div");
    column.className = "column" + (c === cursor && myTurn() ? " cursor" : "");
    column.dataset.column = c;
    // A list of seven columns to choose from: the arrow keys move the choice.
    column.setAttribute("role", "option");
    column.id = "column-" + c;
    column.setAttribute("aria-selected", String(c === cursor));
    const marker = document.createElement("div");
    marker.className = "marker";
    column.append(marker);
    let pieces = 0;
    let wins = 0;
    for (let r = ROWS - 1; r >= 0; r--) {
      const piece = view.board ? view.board[r * COLUMNS + c] : ".";
      const cell = document.createElement("div");
      cell.className = "cell" + (piece === "1" ? " p1" : piece === "2" ? " p2" : "");
      if (winning.has(r + "," + c)) {
        cell.classList.add("win");
        wins++;
      }
      if (last === r + "," + c) cell.classList.add("last");
      if (piece !== ".") pieces++;
      column.append(cell);
    }
    column.setAttribute(
      "aria-label",
      "Column " + (c + 1) + ", " + pieces + " of " + ROWS + " filled" + (wins ? ", " + wins + " of them in the winning four" : ""),
    );
    column.addEventListener("click", () => {
      cursor = c;
      drop();
    });
    columns.push(column);
  }
  boardEl.replaceChildren(...columns);
  boardEl.setAttribute("aria-activedescendant", "column-" + cursor);
}

function awaySeconds(player) {
  return player && !player.online && player.left_at ? (Date.now() - Date.parse(player.left_at)) / 1000 : 0;
}

function renderPlayers() {
  playersEl.replaceChildren(
    ...[1, 2].map((number) => {
      const player = game && game.players[number - 1];
      const li = document.createElement("li");
      const disc = document.createElement("span");
      disc.className = "disc p" + number;
      disc.setAttribute("aria-hidden", "true");
      const label = document.createElement("span");
      label.textContent = (player ? player.username : "waiting…") + (number === 1 ? " (red)" : " (yellow)");
      li.append(disc, label);
      if (player && !player.online && game.status === "active") {
        const away = document.createElement("span");
        away.className = "away";
        away.textContent = "disconnected";
        li.append(away);
      }
      return li;
    }),
  );
  playersLine.textContent = name(1) + " vs " + name(2);
}

// A game button: after it, the focus goes back to the board (the buttons are redrawn,
// which would leave it on the page's body).
function action(label, frame, className) {
  return button(label, () => {
    act(frame);
    boardEl.focus();
  }, className);
}

// A player's action: the server's reply, or null. A refusal ("Wait for your turn.") is
// shown; while not connected nothing is sent, and the live badge says why.
function act(frame) {
  return live.request(frame).catch((error) => {
    if (error instanceof ServerError) showError(error.message);
    return null;
  });
}

function stopConfirming() {
  confirmingResign = false;
  clearTimeout(resignTimer);
}

function renderActions() {
  const buttons = [];
  if (game) {
    const mine = you.number !== null;
    const other = mine ? game.players[2 - you.number] : null;
    if (game.status === "waiting" && mine) buttons.push(action("Cancel game", {type: CLIENT.CANCEL}, "secondary"));
    if (game.status === "waiting" && !mine && you.username) {
      buttons.push(action("Join this game", {type: CLIENT.JOIN, code: config.code || undefined}));
    }
    if (game.status === "active" && mine) {
      if (game.draw_offer && game.draw_offer !== you.number) {
        buttons.push(action("Accept draw", {type: CLIENT.ACCEPT_DRAW}), action("Decline draw", {type: CLIENT.DECLINE_DRAW}, "secondary"));
      } else if (game.draw_offer === you.number) {
        buttons.push(document.createTextNode("Draw offered."));
      } else {
        buttons.push(action("Offer a draw", {type: CLIENT.OFFER_DRAW}, "secondary"));
      }
      if (confirmingResign) {
        const ask = document.createElement("span");
        ask.textContent = "Resign this game?";
        const yes = action("Yes, resign", {type: CLIENT.RESIGN}, "danger");
        yes.addEventListener("click", stopConfirming);
        const no = button("Keep playing", () => {
          stopConfirming();
          renderActions();
          boardEl.focus();
        }, "secondary");
        buttons.push(ask, yes, no);
      } else {
        buttons.push(button("Resign…", () => {
          confirmingResign = true;
          // The question goes away by itself if left unanswered.
          resignTimer = setTimeout(() => {
            confirmingResign = false;
            renderActions();
          }, 8000);
          renderActions();
          actionsEl.querySelector("button.secondary:last-child").focus();
        }, "secondary"));
      }
      if (other && awaySeconds(other) >= game.grace_seconds) {
        buttons.push(action("Claim the win (opponent left)", {type: CLIENT.CLAIM_WIN}));
      }
    }
    if (game.status === "finished" && mine && game.players[1]) {
      if (game.rematch_offer === you.number) buttons.push(document.createTextNode("Rematch requested…"));
      else buttons.push(action(game.rematch_offer ? "Accept rematch" : "Rematch", {type: CLIENT.REMATCH}));
    }
  }
  actionsEl.replaceChildren(...buttons);
  const inviting = game && game.status === "waiting" && you.number === 1;
  inviteBox.hidden = !inviting;
  if (inviting) {
    document.getElementById("invite-link").value = location.origin + game.url + (config.code ? "?code=" + config.code : "");
  }
}

// The turn cue: the status line and the board stand out, the tab's title says it (for
// a player in another tab), and, if asked for, a short tone.
function cueTurn() {
  const mine = Boolean(myTurn());
  statusEl.classList.toggle("your-turn", mine);
  boardEl.classList.toggle("your-turn", mine);
  document.title = mine ? "● Your turn · " + baseTitle : baseTitle;
  if (mine && !wasMyTurn && soundToggle && soundToggle.checked) beep();
  wasMyTurn = mine;
}

function beep() {
  const Audio = window.AudioContext || window.webkitAudioContext;
  if (!Audio) return;
  try {
    const context = beep.context || (beep.context = new Audio());
    const tone = context.createOscillator();
    const gain = context.createGain();
    tone.frequency.value = 660;
    gain.gain.setValueAtTime(0.12, context.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.25);
    tone.connect(gain).connect(context.destination);
    tone.start();
    tone.stop(context.currentTime + 0.25);
  } catch (error) {
    console.warn("no turn sound:", error);
  }
}

if (soundToggle) {
  soundToggle.checked = localStorage.getItem("rtsite.turnSound") === "on";
  soundToggle.addEventListener("change", () => {
    localStorage.setItem("rtsite.turnSound", soundToggle.checked ? "on" : "off");
    if (soundToggle.checked) beep(); // a sample (and the browser's audio is unlocked by the click)
  });
}

// The move list: who played where, in order; in a replay, the move shown is marked.
function renderMoves() {
  const shown = replayable() && shownMove() < moves.length ? shownMove() : null;
  const items = moves.map((column, i) => {
    const number = (i % 2) + 1;
    const li = document.createElement("li");
    const count = document.createElement("span");
    count.className = "move-number";
    count.textContent = i + 1 + ".";
    const disc = document.createElement("span");
    disc.className = "disc p" + number;
    disc.setAttribute("aria-hidden", "true");
    const words = document.createElement("span");
    words.textContent = name(number) + ", column " + (column + 1);
    li.append(count, disc, words);
    if (shown === i + 1) {
      li.className = "current";
      li.setAttribute("aria-current", "step");
    }
    return li;
  });
  const grew = items.length > moveListEl.children.length;
  moveListEl.replaceChildren(...items);
  noMovesEl.hidden = items.length > 0;
  const scroller = moveListEl.parentElement;
  const current = moveListEl.querySelector(".current");
  if (current) current.scrollIntoView({block: "nearest"});
  else if (grew) scroller.scrollTop = scroller.scrollHeight; // the newest move in view
}

function renderReplay() {
  const on = replayable();
  replayEl.hidden = !on;
  if (!on) return;
  const at = shownMove();
  for (const b of replayEl.querySelectorAll("button[data-key]")) {
    // aria-disabled, not disabled: the focus stays on a button that reaches an end.
    const stays = stepFor(b.dataset.key, at, moves.length) === at;
    b.setAttribute("aria-disabled", String(stays));
  }
  const text = replayWords(moves, at, name);
  if (replayStatusEl.textContent !== text) replayStatusEl.textContent = text;
}

function stepReplay(key) {
  const at = stepFor(key, shownMove(), moves.length);
  if (at === null) return false;
  replayAt = at === moves.length ? null : at;
  render();
  return true;
}

function render() {
  renderBoard();
  renderPlayers();
  renderActions();
  renderMoves();
  renderReplay();
  const text = statusText();
  if (statusEl.textContent !== text) statusEl.textContent = text;
  cueTurn();
  renderHelp();
}

// A line that hides itself after a while: errors in red, confirmations ("Invitation
// sent") as a plain note.
function flash(el, text) {
  for (const line of [errorEl, noteEl]) line.hidden = line !== el;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (el.hidden = true), 5000);
}

const showError = (text) => flash(errorEl, text);
const showNote = (text) => flash(noteEl, text);

function accept(next, last, declined) {
  if (game && next.version < game.version) return; // an older state, overtaken
  const newer = !game || next.version > game.version;
  if (newer) {
    // What an error said ("Wait for your turn.") was about the game before this.
    errorEl.hidden = true;
    if (next.status !== "active") stopConfirming();
  }
  // Missed moves (null) are not guessed: the resync that follows sends them all.
  moves = nextMoves(moves, next.moves, last) || moves;
  // A state without a move (a player's connection, a draw offer) keeps the ring on
  // the last move.
  const previous = game;
  game = next;
  game.last = last || (previous && previous.moves === next.moves ? previous.last : null);
  if (game.rematch_id) {
    location.href = "/game/" + game.rematch_id + "/";
    return;
  }
  render();
  if (newer && declined) tellDeclined(declined);
}

// A declined draw offer: the offerer is told (the status line no longer says it is
// offered); a spectator reads who declined whose.
function tellDeclined(offerer) {
  const by = name(3 - offerer);
  if (offerer === you.number) showNote(by + " declined your draw offer.");
  else if (you.number === null) showNote(by + " declined " + name(offerer) + "'s draw offer.");
}

function handle(frame) {
  switch (frame.type) {
    case SERVER.SYNC:
      you = frame.you;
      spectatorsEl.textContent = frame.spectators;
      game = null; // a sync is the whole truth, whatever version came before
      moves = frame.moves;
      accept(frame.game, lastMove(frame.game.board, frame.moves));
      break;
    case SERVER.STATE:
      accept(frame.game, frame.last, frame.declined);
      break;
    case SERVER.SPECTATORS:
      spectatorsEl.textContent = frame.count;
      break;
    case SERVER.INVITED:
      showNote("Invitation sent to " + frame.username + ".");
      break;
    case SERVER.ERROR:
      showError(frame.message);
      break;
  }
}

// The cell of the last move (for its ring), from the board and the moves' columns.
function lastMove(board, moves) {
  if (!moves.length) return null;
  const column = moves[moves.length - 1];
  for (let row = ROWS - 1; row >= 0; row--) {
    if (board[row * COLUMNS + column] !== ".") return [row, column];
  }
  return null;
}

function closed(code) {
  if (code === CLOSE.LOGGED_OUT) return; // logged out: live.js says so for the whole page
  showError(code === CLOSE.NOT_FOUND ? "This game does not exist." : "You cannot view this game.");
}

function drop() {
  if (!myTurn()) {
    const over = game && (game.status === "finished" || game.status === "aborted");
    showError(over ? "This game is over." : game && game.status === "active" && you.number ? "Wait for your turn." : "You are watching this game.");
    return;
  }
  act({type: CLIENT.MOVE, column: cursor});
}

document.addEventListener("keydown", (event) => {
  // A finished game: the arrow keys, Home and End step through its replay (from the
  // board or the replay's buttons).
  const inField = event.target.closest && event.target.closest("input, textarea, a");
  if (replayable() && !inField && !event.altKey && !event.ctrlKey && !event.metaKey && stepReplay(event.key)) {
    event.preventDefault();
    return;
  }
  if (event.target.closest && event.target.closest("input, textarea, button, a")) return;
  if (event.key === "ArrowLeft") cursor = (cursor + COLUMNS - 1) % COLUMNS;
  else if (event.key === "ArrowRight") cursor = (cursor + 1) % COLUMNS;
  else if (event.key === "Enter" || event.key === " " || event.key === "ArrowDown") {
    event.preventDefault();
    drop();
    return;
  } else return;
  event.preventDefault();
  render();
});

document.getElementById("invite-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("invite-name");
  const username = input.value.trim();
  if (!username) return;
  // The name stays in the box until the server has sent the invitation.
  act({type: CLIENT.INVITE, username: username}).then((reply) => {
    if (reply && input.value.trim() === username) input.value = "";
  });
});

for (const b of replayEl.querySelectorAll("button[data-key]")) {
  b.addEventListener("click", () => stepReplay(b.dataset.key));
}

// The claim button appears once the grace period has passed, without a new frame.
setInterval(() => {
  if (game && game.status === "active") renderActions();
}, 1000);

// Help for what this person can do here: keys or taps for a player, nothing to learn
// for a spectator.
function renderHelp() {
  const player = you.number !== null;
  let text = "You are watching: moves appear as they are played.";
  if (replayable()) text = "This game is over: replay it move by move with the buttons below.";
  else if (player) {
    text = touch
      ? "Tap a column to drop your piece there."
      : "Arrow keys move the cursor between columns; Enter or Space drops your piece. Click a column to drop there.";
  }
  if (helpEl.textContent !== text) helpEl.textContent = text;
  if (soundLine) soundLine.hidden = !player || replayable();
}

render();
boardEl.focus();
