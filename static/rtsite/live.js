/*
 * rtsite live client: one small module used by every page that holds a socket.
 *
 *   const live = Live.connect("/ws/chat/general/", {onFrame(frame) {...}});
 *   live.send({type: "message.send", body: "hi"});
 *   live.seen(42);   // the last event id this page has shown
 *   live.seenInOrder(7); live.synced(9);   // or: a counter every change steps by one
 *
 * It reconnects with exponential backoff and full jitter (a server restarting closes
 * with 1012 after a "closing" frame; the reconnect lands on another process), waits at
 * least REFUSED_DELAY_MS after a handshake that failed (a busy server answers 503 with
 * Retry-After, which a browser cannot read), resumes from the last id
 * the page reported through seen() (sent as ?after_id=), and shows the state of all
 * of the page's sockets in every [data-live-state] element.
 *
 * The state shown follows the socket: "Offline" while the browser has no network, and
 * "Live" again as soon as a frame arrives (a short drop often leaves the socket open).
 * When the network changes, an open socket is probed with a ping; one that does not
 * answer within PROBE_MS is dropped and reopened, so a dead socket is not shown live.
 */
(function () {
  "use strict";

  const BASE_DELAY_MS = 500;
  const MAX_DELAY_MS = 15000;
  // After a handshake that never opened (refused, shed, server down): at least this,
  // plus the jittered back-off, so a shed storm comes back spread out.
  const REFUSED_DELAY_MS = 1000;
  // Generous: a busy server answers late, and a probe is only sent on a network change.
  const PROBE_MS = 8000;
  // A change still missing below one that arrived this long ago is taken as lost on the
  // way (the server dropped an event): the socket is reopened, and the resume fills it.
  const GAP_RESYNC_MS = 10000;
  // Server close codes 4400-4499 mean "do not retry" (unknown room, forbidden, logged
  // out, too many sockets), like HTTP's 4xx; 4500 (a server error) is retried.
  const PERMANENT_CLOSE = (code) => code >= 4400 && code < 4500;
  const LOGGED_OUT = 4401;
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
      this.cursor = null;
      this.ahead = new Set(); // changes that arrived above a gap (seenInOrder)
      this.gapTimer = null;
      this.attempt = 0;
      this.timer = null;
      this.ws = null;
      this.probeTimer = null;
      this.closingReason = "";
      this.state = "connecting";
      sockets.add(this);
      window.addEventListener("online", () => this.networkChanged());
      window.addEventListener("offline", () => this.networkChanged());
      this.open();
    }

    url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const sep = this.path.includes("?") ? "&" : "?";
      const query = this.cursor === null ? "" : sep + "after_id=" + encodeURIComponent(this.cursor);
      return scheme + "//" + location.host + this.path + query;
    }

    setState(state) {
      if (this.state === state) return;
      this.state = state;
      renderState();
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
      ws.send(JSON.stringify({type: "ping"}));
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
      this.scheduleReconnect();
    }

    open() {
      clearTimeout(this.timer);
      this.timer = null;
      let ws;
      try {
        ws = new WebSocket(this.url());
      } catch (error) {
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
        if (frame.type === "closing") {
          this.closingReason = frame.reason;
          // A restart: the close (1012) follows once what was sent is answered.
          if (frame.reason === "restart") this.setState("reconnecting");
        }
        if (frame.type !== "pong") this.onFrame(frame);
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearTimeout(this.probeTimer);
        this.probeTimer = null;
        if (event.code === LOGGED_OUT) {
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
      if (typeof id === "number" && (this.cursor === null || id > this.cursor)) this.cursor = id;
    }

    // For a counter that every change steps by one (a room's seq; a change of ``count``
    // steps ends at ``last``): the cursor moves only while nothing below it is missing.
    // Two server processes publish in the order their own commits end, so a change can
    // arrive just before the one committed before it, and a resume from the highest
    // seen would skip that one for good.
    seenInOrder(last, count = 1) {
      for (let seq = last - count + 1; seq <= last; seq++) this.ahead.add(seq);
      this.advance();
    }

    // A sync covers every change up to its cursor.
    synced(cursor) {
      if (this.cursor === null || cursor > this.cursor) this.cursor = cursor;
      this.advance();
    }

    advance() {
      if (this.cursor === null) return;
      for (const seq of this.ahead) if (seq <= this.cursor) this.ahead.delete(seq);
      while (this.ahead.delete(this.cursor + 1)) this.cursor += 1;
      if (this.ahead.size === 0 || this.gapTimer !== null) return;
      const stuckAt = this.cursor;
      this.gapTimer = setTimeout(() => {
        this.gapTimer = null;
        if (this.cursor === stuckAt && this.ahead.size > 0 && this.isOpen) this.drop(this.ws);
        else this.advance();
      }, GAP_RESYNC_MS);
    }

    send(frame) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
      // After "closing" the server is only answering what came before it; it closes
      // the socket once the client has gone quiet. Pages keep what they could not send.
      if (this.closingReason) return false;
      this.ws.send(JSON.stringify(frame));
      return true;
    }

    get connected() {
      return this.state === "connected";
    }
  }

  window.Live = {
    connect(path, options) {
      return new LiveSocket(path, options || {});
    },
  };
})();
