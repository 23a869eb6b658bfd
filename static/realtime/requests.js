/*
 * Matching replies to requests by ``ref``. Pure: live.js sends the frames.
 *
 * The server answers every frame that carries a ref exactly once, with that ref: its
 * own reply (history, joined, ...), an ack, or an error (docs/protocol.md). So a
 * request is settled by the first frame with its ref, and by nothing else but the
 * socket going away before that frame came.
 */

/** The server refused the request: its ``error`` frame (code, message) is ``frame``. */
export class ServerError extends Error {
  constructor(frame) {
    super(frame.message);
    this.name = "ServerError";
    this.code = frame.code;
    this.frame = frame;
  }
}

/** No reply will come: the request was not sent (``sent`` false: not connected, or the
 * server is closing the socket), or the socket closed before its reply arrived. */
export class Disconnected extends Error {
  constructor(sent) {
    super(sent ? "the connection closed before the server answered" : "not connected");
    this.name = "Disconnected";
    this.sent = sent;
  }
}

export class PendingRequests {
  constructor(prefix = "r") {
    this.prefix = prefix;
    this.counter = 0;
    this.waiting = new Map(); // ref -> {resolve, reject}
  }

  /** A new ref and the promise its reply settles. */
  add() {
    const ref = this.prefix + ++this.counter;
    const reply = new Promise((resolve, reject) => this.waiting.set(ref, {resolve, reject}));
    return {ref, reply};
  }

  /** The request ``frame`` answers, if it answers one: taken off the waiting list. */
  take(frame) {
    if (typeof frame.ref !== "string") return null;
    const request = this.waiting.get(frame.ref);
    if (request) this.waiting.delete(frame.ref);
    return request || null;
  }

  /** Every request still waiting gets ``error``: its reply will not come. */
  failAll(error) {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const request of waiting) request.reject(error);
  }

  get size() {
    return this.waiting.size;
  }
}
