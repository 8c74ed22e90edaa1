/**
 * Jittered exponential backoff: the wait before the next try after `failures` failures in a
 * row. The ceiling starts at `baseMs`, grows by `factor` per further failure up to `capMs`, and
 * the wait is drawn uniformly from the top `jitter` fraction of it, so that many clients failing
 * together do not retry together: with the default jitter of 0.5, between half the ceiling and
 * the ceiling. Pure: the random source is a parameter.
 */

export interface BackoffOptions {
  /** The ceiling after the first failure, ms. */
  baseMs: number;
  /** The largest ceiling, ms. */
  capMs: number;
  /** Growth of the ceiling per failure; default 2. */
  factor?: number;
  /** The fraction of the ceiling drawn at random, 0 (none) to 1; default 0.5. */
  jitter?: number;
  /** Uniform in [0, 1); default Math.random. */
  random?: () => number;
}

/** The ceiling after `failures` failures in a row (1 for the first), before jitter. */
export function backoffCeiling(failures: number, options: BackoffOptions): number {
  const { baseMs, capMs, factor = 2 } = options;
  if (!(baseMs >= 0 && capMs >= 0 && factor >= 1)) {
    throw new RangeError("backoff needs baseMs >= 0, capMs >= 0 and factor >= 1");
  }
  if (baseMs === 0) return 0;
  // factor ** n overflows to Infinity for a long run of failures: the cap applies then.
  return Math.min(capMs, baseMs * factor ** Math.max(0, failures - 1));
}

/** The wait, ms (rounded), after `failures` failures in a row (1 for the first). */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  const { jitter = 0.5, random = Math.random } = options;
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError("backoff jitter must be between 0 and 1");
  return Math.round(backoffCeiling(failures, options) * (1 - jitter + jitter * random()));
}
