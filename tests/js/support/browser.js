// A stand-in for the browser globals live.js uses, with a WebSocket the test drives:
// accept() opens it, receive(frame) delivers a frame, drop(code) closes it.
export class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 3;
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    FakeWebSocket.made.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.readyState = FakeWebSocket.CLOSED;
  }

  accept() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen();
  }

  receive(frame) {
    this.onmessage({data: JSON.stringify(frame)});
  }

  drop(code = 1006) {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose({code, reason: ""});
  }
}

// The page's "Retry now" button: one for the whole run, as live.js wires the page once.
export const retryButton = {
  hidden: true,
  listeners: {},
  addEventListener(type, listener) {
    this.listeners[type] = listener;
  },
};

export function installBrowser() {
  FakeWebSocket.made = [];
  Object.assign(globalThis, {
    WebSocket: FakeWebSocket,
    window: {addEventListener() {}},
    location: {protocol: "http:", host: "site.test"},
    document: {
      querySelectorAll: (selector) => (selector === "[data-live-retry]" ? [retryButton] : []),
      getElementById: () => null,
      addEventListener() {},
    },
  });
  // Node 21+ has a navigator of its own, without a setter.
  Object.defineProperty(globalThis, "navigator", {value: {onLine: true}, configurable: true, writable: true});
}
