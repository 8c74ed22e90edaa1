/**
 * A de-duplicating work queue with delayed adds, per-key exclusivity and per-key error backoff
 * (in the manner of client-go's workqueue). A key is processed by at most one worker at a time;
 * adding a key that is queued or running coalesces into one more run.
 */
import { keepAliveClock, type Clock } from "../consumer/clock.ts";
import { backoffDelay } from "../core/backoff.ts";

export type Handler = (key: string) => Promise<{ requeueAt?: number } | undefined>;

export interface QueueOptions {
  workers: number;
  /** Default keepAliveClock (real time). */
  clock?: Clock;
  /** first and maximum error backoff, ms */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private cancelTimer: (() => void) | undefined;
  private timerAt = Infinity;
  private active = 0;
  private stopped = false;
  private readonly clock: Clock;
  private idleWaiters: (() => void)[] = [];

  private readonly handler: Handler;
  private readonly options: QueueOptions;

  constructor(handler: Handler, options: QueueOptions) {
    this.handler = handler;
    this.options = options;
    this.clock = options.clock ?? keepAliveClock;
  }

  /** Run `key` as soon as a worker is free. */
  add(key: string): void {
    if (this.stopped) return;
    this.delayed.delete(key);
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
    this.pump();
  }

  /** Run `key` at `when` (epoch ms) unless it is due earlier already. */
  addAt(key: string, when: number): void {
    if (this.stopped) return;
    if (when <= this.clock.now()) {
      this.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const existing = this.delayed.get(key);
    if (existing !== undefined && existing <= when) return;
    this.delayed.set(key, when);
    this.arm();
  }

  /** Forget a key entirely (its object is gone). */
  forget(key: string): void {
    this.delayed.delete(key);
    this.failures.delete(key);
  }

  get length(): number {
    return this.queued.size + this.running.size;
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.delayed.clear();
  }

  private arm(): void {
    let earliest = Infinity;
    for (const when of this.delayed.values()) earliest = Math.min(earliest, when);
    if (earliest === this.timerAt) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = earliest;
    if (earliest === Infinity) return;
    // The clock's timers cannot exceed maxTimerMs; a far wake-up is re-armed when this one fires.
    this.cancelTimer = this.clock.schedule(() => {
      this.cancelTimer = undefined;
      this.timerAt = Infinity;
      const now = this.clock.now();
      for (const [key, when] of [...this.delayed]) {
        if (when <= now) this.add(key);
      }
      this.arm();
    }, earliest - this.clock.now());
  }

  private pump(): void {
    while (!this.stopped && this.active < this.options.workers && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      this.queued.delete(key);
      this.running.add(key);
      this.active++;
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result?.requeueAt !== undefined) this.addAt(key, result.requeueAt);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const retryIn = backoffDelay(n, {
        baseMs: this.options.baseBackoffMs ?? 500,
        capMs: this.options.maxBackoffMs ?? 300_000,
      });
      this.options.onError?.(key, err, retryIn);
      this.addAt(key, this.clock.now() + retryIn);
    } finally {
      this.running.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
      if (this.length === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
