/**
 * The time source of the project: wall-clock instants (the ring's timestamps are epoch
 * milliseconds) and one-shot timers. The consumers, the sidecar, the controller's work queue
 * and its leader elector take one, so tests drive them with a fake clock.
 */

/** The longest delay Node's setTimeout accepts (2^31 - 1 ms, about 24.8 days). */
export const maxTimerMs = 2 ** 31 - 1;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `callback` once after about `ms` milliseconds; the returned function cancels it. */
  schedule(callback: () => void, ms: number): () => void;
}

function timerClock(keepAlive: boolean): Clock {
  return {
    now: () => Date.now(),
    schedule(callback, ms) {
      const timer = setTimeout(callback, Math.min(Math.max(0, ms), maxTimerMs));
      if (!keepAlive) timer.unref();
      return () => {
        clearTimeout(timer);
      };
    },
  };
}

/**
 * Date.now() and setTimeout, capped at maxTimerMs. The timers are unref'd: a pending key change
 * never keeps a process alive on its own (the server or the source does).
 */
export const systemClock: Clock = timerClock(false);

/**
 * systemClock whose pending timers keep the process alive, for waits that are the process's own
 * work (the controller's work queue and its leader election loop).
 */
export const keepAliveClock: Clock = timerClock(true);

/** Resolves after about `ms` milliseconds on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(resolve, ms));
}
