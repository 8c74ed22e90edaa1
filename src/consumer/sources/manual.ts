/**
 * A source fed by hand: the caller pushes rings (ring.json bytes or Ring objects) obtained by
 * its own means. Every push is validated like any update. Used by tests and benchmarks to
 * deliver a ring to replicas at chosen moments, and by programs that fetch keys themselves.
 */
import type { Ring } from "../../core/index.ts";
import { BaseRingSource, type RingSourceOptions } from "../ring-source.ts";

export class ManualRingSource extends BaseRingSource {
  constructor(options: RingSourceOptions & { description?: string } = {}) {
    super(options.description ?? "manual", options);
  }

  /** Offers an update; true when it was accepted (then `ring` was emitted if it changed anything). */
  push(update: string | Buffer | Ring): boolean {
    return this.offer(update);
  }

  protected override open(): Promise<void> {
    return Promise.resolve();
  }

  protected override close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A source you push rings into yourself (`push(ring.json | Ring)`); `initial` is pushed at once. */
export function manualSource(
  initial?: string | Buffer | Ring,
  options: RingSourceOptions & { description?: string } = {},
): ManualRingSource {
  const source = new ManualRingSource(options);
  if (initial !== undefined) source.push(initial);
  return source;
}
