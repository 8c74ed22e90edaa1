import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WorkQueue } from "../../../src/controller/queue.ts";
import { FakeClock } from "../fake-clock.ts";

const t0 = Date.UTC(2026, 10, 22, 10);

describe("WorkQueue", () => {
  it("coalesces adds of a queued key and runs a key added while running once more", async () => {
    const runs: string[] = [];
    let release: () => void = () => undefined;
    const queue = new WorkQueue(
      async (key) => {
        runs.push(key);
        if (runs.length === 1) await new Promise<void>((r) => (release = r));
        return undefined;
      },
      { workers: 1, clock: new FakeClock(t0) },
    );
    queue.add("a");
    queue.add("a"); // running: marks it dirty
    queue.add("a");
    queue.add("b");
    queue.add("b"); // queued: coalesced
    assert.deepEqual(runs, ["a"], "a runs at once; b waits for the one worker");
    release();
    await queue.idle();
    assert.deepEqual(runs.sort(), ["a", "a", "b"]);
  });

  it("never runs one key on two workers at once", async () => {
    let concurrent = 0;
    let max = 0;
    const gates: (() => void)[] = [];
    let started = Promise.withResolvers<undefined>();
    const queue = new WorkQueue(
      async () => {
        max = Math.max(max, ++concurrent);
        const gate = new Promise<void>((r) => gates.push(r));
        started.resolve(undefined);
        await gate;
        concurrent--;
        return undefined;
      },
      { workers: 4, clock: new FakeClock(t0) },
    );
    const nextStart = (): Promise<undefined> => (started = Promise.withResolvers<undefined>()).promise;
    for (let i = 0; i < 20; i++) queue.add("same");
    assert.equal(gates.length, 1, "one run although three workers are free");
    let run = nextStart();
    gates[0]!();
    await run; // the run the adds during the first coalesced into
    for (let i = 0; i < 20; i++) queue.add("same");
    run = nextStart();
    gates[1]!();
    await run;
    gates[2]!();
    await queue.idle();
    assert.equal(gates.length, 3, "each batch of adds during a run made one more run");
    assert.equal(max, 1);
  });

  it("runs a key at the requested time and keeps the earliest of two requests", async () => {
    const clock = new FakeClock(t0);
    const at: number[] = [];
    const start = clock.now();
    const queue = new WorkQueue(
      () => {
        at.push(clock.now() - start);
        return Promise.resolve(undefined);
      },
      { workers: 1, clock },
    );
    queue.addAt("k", start + 80);
    queue.addAt("k", start + 40);
    await clock.runTo(start + 39);
    assert.equal(at.length, 0, "not before the time");
    await clock.runTo(start + 150);
    queue.stop();
    assert.equal(at.length, 1);
    assert.equal(at[0], 40, `ran at ${at[0]!} ms`);
    assert.equal(clock.pending, 0, "the later request left no timer behind");
  });

  it("retries a failing key with growing backoff and reports each failure", async () => {
    const clock = new FakeClock(t0);
    const failures: number[] = [];
    const calls: number[] = [];
    const queue = new WorkQueue(
      () => {
        calls.push(clock.now() - t0);
        return calls.length < 3 ? Promise.reject(new Error("boom")) : Promise.resolve(undefined);
      },
      { workers: 1, clock, baseBackoffMs: 10, onError: (_key, _err, retryIn) => failures.push(retryIn) },
    );
    queue.add("k");
    await clock.runFor(120);
    queue.stop();
    assert.equal(calls.length, 3);
    assert.equal(failures.length, 2);
    assert.ok(failures[0]! >= 5 && failures[0]! <= 10, `first backoff ${failures[0]!}`);
    assert.ok(failures[1]! >= 10 && failures[1]! <= 20, `second backoff ${failures[1]!}`);
    assert.deepEqual(calls, [0, failures[0]!, failures[0]! + failures[1]!], "each retry after its backoff");
  });

  it("requeues at the time the handler returns", async () => {
    const clock = new FakeClock(t0);
    const calls: number[] = [];
    const queue = new WorkQueue(
      () => {
        calls.push(clock.now() - t0);
        return Promise.resolve(calls.length === 1 ? { requeueAt: clock.now() + 20 } : undefined);
      },
      { workers: 1, clock },
    );
    queue.add("k");
    await clock.runFor(80);
    queue.stop();
    assert.equal(calls.length, 2);
    assert.deepEqual(calls, [0, 20]);
  });

  it("re-arms a far wake-up that the clock's timers cut short", async () => {
    const clock = new FakeClock(t0);
    const day = 24 * 3_600_000;
    // Like systemClock's cap at maxTimerMs, here at one day: the timer fires early.
    const schedule = clock.schedule.bind(clock);
    const waits: number[] = [];
    clock.schedule = (callback, ms) => {
      waits.push(ms);
      return schedule(callback, Math.min(ms, day));
    };
    const calls: number[] = [];
    const queue = new WorkQueue(
      () => {
        calls.push(clock.now() - t0);
        return Promise.resolve(undefined);
      },
      { workers: 1, clock },
    );
    queue.addAt("k", t0 + 3.5 * day);
    await clock.runTo(t0 + 3.5 * day - 1);
    assert.deepEqual(calls, [], "not when a shortened timer fires");
    await clock.runTo(t0 + 4 * day);
    queue.stop();
    assert.deepEqual(calls, [3.5 * day]);
    assert.deepEqual(waits, [3.5 * day, 2.5 * day, 1.5 * day, 0.5 * day], "re-armed for the rest each time");
  });
});
