// Timers the test fires by hand (node 18 has no mock timers).
export function manualTimers() {
  const waiting = [];
  return {
    waiting,
    set(run, ms) {
      const timer = {run, ms};
      waiting.push(timer);
      return timer;
    },
    // Fire the timers set so far, oldest first.
    fire() {
      for (const timer of waiting.splice(0)) timer.run();
    },
  };
}
