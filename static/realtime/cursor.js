/*
 * Where a socket resumes from after a reconnect (sent as ?after_id=). Pure: no DOM, no
 * socket; the timer functions can be swapped (the unit tests drive them by hand).
 *
 *   seen(id)                the last event id the page has shown (notifications);
 *   seenInOrder(last, n)    a change of a counter that every change steps by one (a
 *                           room's seq; a change of n steps ends at last);
 *   synced(cursor)          a sync covers every change up to its cursor.
 *
 * With seenInOrder the cursor moves only while nothing below it is missing. Two server
 * processes publish in the order their own commits end, so a change can arrive just
 * before the one committed before it, and a resume from the highest seen would skip
 * that one for good. A change still missing GAP_RESYNC_MS after one above it arrived is
 * taken as lost on the way (the server dropped an event): onStuck() is called, and the
 * socket reopened from the cursor fills the gap.
 */

export const GAP_RESYNC_MS = 10000;

export class ResumeCursor {
  /**
   * @param {object} [options]
   * @param {() => boolean} [options.onStuck] a gap stayed open: true if that was dealt
   *   with (the socket was reopened); false checks again later.
   */
  constructor({onStuck = () => false, gapMs = GAP_RESYNC_MS, setTimer = (run, ms) => setTimeout(run, ms)} = {}) {
    this.value = null; // null: no cursor yet (the socket starts with recent history)
    this.ahead = new Set(); // changes that arrived above a gap
    this.onStuck = onStuck;
    this.gapMs = gapMs;
    this.setTimer = setTimer;
    this.gapTimer = null;
  }

  seen(id) {
    if (typeof id === "number" && (this.value === null || id > this.value)) this.value = id;
  }

  seenInOrder(last, count = 1) {
    for (let seq = last - count + 1; seq <= last; seq++) this.ahead.add(seq);
    this.advance();
  }

  synced(cursor) {
    if (this.value === null || cursor > this.value) this.value = cursor;
    this.advance();
  }

  advance() {
    if (this.value === null) return;
    for (const seq of this.ahead) if (seq <= this.value) this.ahead.delete(seq);
    while (this.ahead.delete(this.value + 1)) this.value += 1;
    if (this.ahead.size === 0 || this.gapTimer !== null) return;
    const stuckAt = this.value;
    this.gapTimer = this.setTimer(() => {
      this.gapTimer = null;
      if (this.value === stuckAt && this.ahead.size > 0 && this.onStuck()) return;
      this.advance();
    }, this.gapMs);
  }
}
