/*
 * The live client: one small module used by every page that holds a socket.
 *
 *   import {connect} from "../realtime/live.js";
 *   const live = connect("/ws/chat/general/", {onFrame(frame) {...}});
 *   live.send({type: "typing"});            // true if it went out
 *   live.request({type: "message.delete", id: 42})
 *     .then((reply) => ...)                 // the reply carrying the request's ref
 *     .catch((error) => ...);               // ServerError (the server's error frame)
 *                                           // or Disconnected (no reply will come)
 *   live.seen(42);   // the last event id this page has shown
 *   live.seenInOrder(7); live.synced(9);   // or: a counter every change steps by one
 *
 * Every frame goes to onFrame, replies to requests included (before the request's
 * promise settles), except an error answering a request: that goes to the request.
 *
 * It reconnects with exponential backoff and full jitter (a server restarting closes
 * with 1012 after a "closing" frame; the reconnect lands on another process), waits at
 * least REFUSED_DELAY_MS after a handshake that failed (a busy server answers 503 with
 * Retry-After, which a browser cannot read), resumes from its cursor (cursor.js, sent
 * as ?after_id=), and shows the state of all of the page's sockets in every
 * [data-live-state] element.
 *
 * The state shown follows the socket: "Offline" while the browser has no network, and
 * "Live" again as soon as a frame arrives (a short drop often leaves the socket open).
 * When the network changes, an open socket is probed with a ping; one that does not
 * answer within PROBE_MS is dropped and reopened, so a dead socket is not shown live.
 *
 * While it waits to reconnect, a [data-live-retry] button ("Retry now") tries at once,
 * and so does the page coming back into view. onState(state) tells the page each change
 * of its socket's state (a room greys its online list while it is not "connected").
 */
import {ResumeCursor} from "./cursor.js";
import {Disconnected, PendingRequests, ServerError} from "./requests.js";
import {CLIENT, CLOSE, SERVER} from "./protocol.js";

export {Disconnected, ServerError};

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
// After a handshake that never opened (refused, shed, server down): at least this,
// plus the jittered back-off, so a shed storm comes back spread out.
const REFUSED_DELAY_MS = 1000;
// Generous: a busy server answers late, and a probe is only sent on a network change.
const PROBE_MS = 8000;
// Server close codes 4400-4499 mean "do not retry" (unknown room, forbidden, logged
// out, too many sockets), like HTTP's 4xx; 4500 (a server error) is retried.
const PERMANENT_CLOSE = (code) => code >= 4400 && code < 4500;
const LABELS = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  closed: "Disconnected",
  loggedout: "Logged out",
};
const RANK = {connected: 0, connecting: 1, reconnecting: 2, offline: 3, closed: 4, loggedout: 5};
const sockets = new Set();

function renderState() {
  let worst = "connected";
  for (const socket of sockets) {
    if (RANK[socket.state] > RANK[worst]) worst = socket.state;
  }
  for (const el of document.querySelectorAll("[data-live-state]")) {
    el.dataset.liveState = worst;
    el.textContent = LABELS[worst];
  }
  const waiting = [...sockets].some((socket) => socket.waiting);
  for (const button of document.querySelectorAll("[data-live-retry]")) button.hidden = !waiting;
}

function retryNow() {
  for (const socket of sockets) {
    if (socket.waiting) socket.reconnectNow();
  }
}

// Once, with the page's first socket.
let pageWired = false;
function wirePage() {
  if (pageWired) return;
  pageWired = true;
  for (const button of document.querySelectorAll("[data-live-retry]")) button.addEventListener("click", retryNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") retryNow();
  });
}

// The session ended elsewhere (logout, a password change, a deactivation): say so, with
// a way back, instead of a bare "Disconnected". The closing frame gives the reason.
function showLoggedOut(reason) {
  const notice = document.getElementById("logged-out-notice");
  if (!notice || !notice.hidden) return;
  const why = reason && reason !== "logged out" ? ": " + reason : "";
  notice.querySelector("[data-reason]").textContent = why;
  notice.hidden = false;
}

class LiveSocket {
  constructor(path, options) {
    this.path = path;
    this.onFrame = options.onFrame || (() => {});
    this.onOpen = options.onOpen || (() => {});
    this.onClosed = options.onClosed || (() => {});
    this.onState = options.onState || (() => {});
    this.cursor = new ResumeCursor({
      onStuck: () => {
        if (!this.isOpen) return false;
        this.drop(this.ws);
        return true;
      },
    });
    this.requests = new PendingRequests();
    this.attempt = 0;
    this.timer = null;
    this.ws = null;
    this.probeTimer = null;
    this.closingReason = "";
    this.state = "connecting";
    sockets.add(this);
    wirePage();
    window.addEventListener("online", () => this.networkChanged());
    window.addEventListener("offline", () => this.networkChanged());
    this.open();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const sep = this.path.includes("?") ? "&" : "?";
    const cursor = this.cursor.value;
    const query = cursor === null ? "" : sep + "after_id=" + encodeURIComponent(cursor);
    return scheme + "//" + location.host + this.path + query;
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    renderState();
    this.onState(state);
  }

  // Lost, and trying again by itself (not for good: not after a refusal).
  get waiting() {
    return this.state === "reconnecting" || this.state === "offline";
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  networkChanged() {
    const offline = navigator.onLine === false;
    if (offline) this.setState("offline");
    if (this.isOpen) this.probe();
    else if (!offline) this.reconnectNow();
  }

  // Any frame answers the probe; no frame within PROBE_MS means the socket is dead
  // even if the browser has not noticed (its TCP connection may linger for minutes).
  probe() {
    if (this.probeTimer !== null) return;
    const ws = this.ws;
    ws.send(JSON.stringify({type: CLIENT.PING}));
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (this.ws === ws) this.drop(ws);
    }, PROBE_MS);
  }

  answered() {
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.setState("connected");
  }

  drop(ws) {
    ws.onclose = ws.onmessage = null;
    ws.close();
    this.ws = null;
    this.lost();
    this.scheduleReconnect();
  }

  // The socket is gone: replies to what was sent on it will not come.
  lost() {
    this.requests.failAll(new Disconnected(true));
  }

  open() {
    clearTimeout(this.timer);
    this.timer = null;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
      this.opened = true;
      this.closingReason = "";
      this.attempt = 0;
      this.setState("connected");
      this.onOpen();
    };
    ws.onmessage = (event) => {
      this.answered();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        console.error("live: unreadable frame", error);
        return;
      }
      this.receive(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.probeTimer);
      this.probeTimer = null;
      this.lost();
      if (event.code === CLOSE.LOGGED_OUT) {
        this.setState("loggedout");
        showLoggedOut(this.closingReason);
        this.onClosed(event.code, event.reason);
        return;
      }
      if (PERMANENT_CLOSE(event.code)) {
        this.setState("closed");
        this.onClosed(event.code, event.reason);
        return;
      }
      this.scheduleReconnect();
    };
  }

  receive(frame) {
    if (frame.type === SERVER.CLOSING) {
      this.closingReason = frame.reason;
      // A restart: the close (1012) follows once what was sent is answered.
      if (frame.reason === "restart") this.setState("reconnecting");
    }
    const request = this.requests.take(frame);
    if (request && frame.type === SERVER.ERROR) {
      request.reject(new ServerError(frame));
      return;
    }
    if (frame.type !== SERVER.PONG) this.onFrame(frame);
    if (request) request.resolve(frame);
  }

  scheduleReconnect() {
    if (this.timer !== null) return;
    this.setState(navigator.onLine === false ? "offline" : "reconnecting");
    // Full jitter: a restarted server is not hit by every browser at the same instant.
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const floor = this.opened === false ? REFUSED_DELAY_MS : 0;
    this.attempt += 1;
    this.timer = setTimeout(() => this.open(), floor + Math.random() * ceiling);
  }

  reconnectNow() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.attempt = 0;
    clearTimeout(this.timer);
    this.timer = null;
    this.open();
  }

  seen(id) {
    this.cursor.seen(id);
  }

  seenInOrder(last, count = 1) {
    this.cursor.seenInOrder(last, count);
  }

  synced(cursor) {
    this.cursor.synced(cursor);
  }

  // After "closing" the server is only answering what came before it; it closes the
  // socket once the client has gone quiet. Pages keep what they could not send.
  get canSend() {
    return this.isOpen && !this.closingReason;
  }

  send(frame) {
    if (!this.canSend) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send ``frame`` with a new ref: a promise of the server's reply (see above). */
  request(frame) {
    if (!this.canSend) return Promise.reject(new Disconnected(false));
    const {ref, reply} = this.requests.add();
    this.ws.send(JSON.stringify({...frame, ref}));
    return reply;
  }

  get connected() {
    return this.state === "connected";
  }
}

export function connect(path, options) {
  return new LiveSocket(path, options || {});
}
