/*
 * A mute that lapses by itself: the page lets the viewer post again when it does (the
 * server accepts their posts from then on) without waiting to be told. The time comes
 * as "ms from now" (the server's count, so the page's clock does not matter), a little
 * late rather than early.
 */
export const LAPSE_MARGIN_MS = 250;
const MAX_TIMER_MS = 2 ** 31 - 1; // a longer setTimeout fires at once

/**
 * Returns ``untilLapsed(expiresIn, lapse)``: calls ``lapse()`` once ``expiresIn`` ms have
 * passed; null (not muted, or until staff lift it) or a later call cancels it.
 */
export function lapseTimer({set = (run, ms) => setTimeout(run, ms), clear = (timer) => clearTimeout(timer)} = {}) {
  let timer = null;
  const schedule = (ms, lapse) => {
    timer = set(
      () => {
        timer = null;
        if (ms > MAX_TIMER_MS) schedule(ms - MAX_TIMER_MS, lapse);
        else lapse();
      },
      Math.min(ms, MAX_TIMER_MS),
    );
  };
  return function untilLapsed(expiresIn, lapse) {
    if (timer !== null) clear(timer);
    timer = null;
    if (expiresIn === null || expiresIn === undefined) return;
    schedule(expiresIn + LAPSE_MARGIN_MS, lapse);
  };
}
