/*
 * The room's socket, opened once by the page (room.js) with its frame handlers; the
 * parts of the page send through these.
 */
import {Disconnected, connect} from "../../realtime/live.js";
import {showError} from "./notice.js";

let live = null;

export function open(path, options) {
  live = connect(path, options);
}

export const send = (frame) => live.send(frame);
export const request = (frame) => live.request(frame);
export const canSend = () => live.canSend;
export const seenInOrder = (last, count) => live.seenInOrder(last, count);
export const synced = (cursor) => live.synced(cursor);

// What a refused request shows: the server's reason, or that it could not be sent. (A
// request whose socket closed before the answer says nothing: the resync shows what
// happened.)
export function refused(error) {
  if (!(error instanceof Disconnected)) showError(error.message);
  else if (!error.sent) showError("Not connected. Try again when the connection is back.");
}
