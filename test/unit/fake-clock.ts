/** A fake Clock for the unit tests: time moves only when the test moves it. */
import type { Clock } from "../../src/consumer/clock.ts";

/** One turn of the event loop: every promise callback queued so far has run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A clock the test moves by hand; timers fire in order as it moves. */
export class FakeClock implements Clock {
  #now: number;
  #next = 0;
  readonly #timers = new Map<number, { due: number; callback: () => void }>();

  constructor(now: number) {
    this.#now = now;
  }

  now(): number {
    return this.#now;
  }

  schedule(callback: () => void, ms: number): () => void {
    const id = this.#next++;
    this.#timers.set(id, { due: this.#now + ms, callback });
    return () => {
      this.#timers.delete(id);
    };
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves to `instant`, firing every timer due on the way at its own instant. */
  advanceTo(instant: number): void {
    for (;;) {
      const first = this.#firstDue(instant);
      if (first === undefined) break;
      this.#timers.delete(first[0]);
      this.#now = Math.max(this.#now, first[1].due);
      first[1].callback();
    }
    this.#now = Math.max(this.#now, instant);
  }

  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /**
   * advanceTo for code that awaits between its timers (a handler, an API call): after each timer,
   * and before the first, one turn of the event loop lets it run and schedule its next timer,
   * which fires on the way too if it is due by `instant`.
   */
  async runTo(instant: number): Promise<void> {
    for (;;) {
      await settle();
      const first = this.#firstDue(instant);
      if (first === undefined) break;
      this.advanceTo(first[1].due);
    }
    this.advanceTo(instant);
    await settle();
  }

  runFor(ms: number): Promise<void> {
    return this.runTo(this.#now + ms);
  }

  #firstDue(instant: number): [number, { due: number; callback: () => void }] | undefined {
    let first: [number, { due: number; callback: () => void }] | undefined;
    for (const entry of this.#timers) {
      if (entry[1].due <= instant && (first === undefined || entry[1].due < first[1].due)) first = entry;
    }
    return first;
  }
}
