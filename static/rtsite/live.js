/*
 * rtsite live client: one small module used by every page that holds a socket.
 *
 *   const live = Live.connect("/ws/chat/general/", {onFrame(frame) {...}});
 *   live.send({type: "message.send", body: "hi"});
 *   live.seen(42);   // the last event id this page has shown
 *
 * It reconnects with exponential backoff and full jitter, resumes from the last id
 * the page reported through seen() (sent as ?after_id=), and shows the state of all
 * of the page's sockets in every [data-live-state] element.
 */
(function () {
  "use strict";

  const BASE_DELAY_MS = 500;
  const MAX_DELAY_MS = 15000;
  // Server close codes 4400-4499 mean "do not retry" (unknown room, forbidden, logged
  // out, too many sockets), like HTTP's 4xx; 4500 (a server error) is retried.
  const PERMANENT_CLOSE = (code) => code >= 4400 && code < 4500;
  const LABELS = {
    connecting: "Connecting…",
    connected: "Live",
    reconnecting: "Reconnecting…",
    offline: "Offline",
    closed: "Disconnected",
  };
  const RANK = {connected: 0, connecting: 1, reconnecting: 2, offline: 3, closed: 4};
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

  class LiveSocket {
    constructor(path, options) {
      this.path = path;
      this.onFrame = options.onFrame || (() => {});
      this.onOpen = options.onOpen || (() => {});
      this.onClosed = options.onClosed || (() => {});
      this.cursor = null;
      this.attempt = 0;
      this.timer = null;
      this.ws = null;
      this.state = "connecting";
      sockets.add(this);
      window.addEventListener("online", () => this.reconnectNow());
      window.addEventListener("offline", () => this.setState("offline"));
      this.open();
    }

    url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const sep = this.path.includes("?") ? "&" : "?";
      const query = this.cursor === null ? "" : sep + "after_id=" + encodeURIComponent(this.cursor);
      return scheme + "//" + location.host + this.path + query;
    }

    setState(state) {
      this.state = state;
      renderState();
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
      ws.onopen = () => {
        this.attempt = 0;
        this.setState("connected");
        this.onOpen();
      };
      ws.onmessage = (event) => {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch (error) {
          console.error("live: unreadable frame", error);
          return;
        }
        this.onFrame(frame);
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
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
      this.attempt += 1;
      this.timer = setTimeout(() => this.open(), Math.random() * ceiling);
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

    send(frame) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
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
