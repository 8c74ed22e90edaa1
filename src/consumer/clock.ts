/**
 * The time source of the consumers: wall-clock instants (the ring's timestamps are epoch
 * milliseconds) and one-shot timers. Injectable, so tests drive the schedule with a fake clock.
 */

/** The longest delay Node's setTimeout accepts (2^31 - 1 ms, about 24.8 days). */
export const maxTimerMs = 2 ** 31 - 1;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `callback` once after about `ms` milliseconds; the returned function cancels it. */
  schedule(callback: () => void, ms: number): () => void;
}

/**
 * Date.now() and setTimeout, capped at maxTimerMs. The timers are unref'd: a pending key change
 * never keeps a process alive on its own (the server or the source does).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(callback, ms) {
    const timer = setTimeout(callback, Math.min(Math.max(0, ms), maxTimerMs));
    timer.unref();
    return () => {
      clearTimeout(timer);
    };
  },
};
