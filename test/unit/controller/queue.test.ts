import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WorkQueue } from "../../../src/controller/queue.ts";

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
      { workers: 1 },
    );
    queue.add("a");
    queue.add("a"); // running: marks it dirty
    queue.add("a");
    queue.add("b");
    queue.add("b"); // queued: coalesced
    await sleep(5);
    release();
    await queue.idle();
    assert.deepEqual(runs.sort(), ["a", "a", "b"]);
  });

  it("never runs one key on two workers at once", async () => {
    let concurrent = 0;
    let max = 0;
    const queue = new WorkQueue(
      async () => {
        max = Math.max(max, ++concurrent);
        await sleep(2);
        concurrent--;
        return undefined;
      },
      { workers: 4 },
    );
    for (let i = 0; i < 20; i++) queue.add("same");
    await queue.idle();
    assert.equal(max, 1);
  });

  it("runs a key at the requested time and keeps the earliest of two requests", async () => {
    const at: number[] = [];
    const start = Date.now();
    const queue = new WorkQueue(
      () => {
        at.push(Date.now() - start);
        return Promise.resolve(undefined);
      },
      { workers: 1 },
    );
    queue.addAt("k", start + 80);
    queue.addAt("k", start + 40);
    await sleep(150);
    queue.stop();
    assert.equal(at.length, 1);
    assert.ok(at[0]! >= 39, `ran at ${at[0]!} ms`);
  });

  it("retries a failing key with growing backoff and reports each failure", async () => {
    const failures: number[] = [];
    let calls = 0;
    const queue = new WorkQueue(
      () => {
        calls++;
        return calls < 3 ? Promise.reject(new Error("boom")) : Promise.resolve(undefined);
      },
      { workers: 1, baseBackoffMs: 10, onError: (_key, _err, retryIn) => failures.push(retryIn) },
    );
    queue.add("k");
    await sleep(120);
    queue.stop();
    assert.equal(calls, 3);
    assert.equal(failures.length, 2);
    assert.ok(failures[1]! >= 10 && failures[1]! <= 20, `second backoff ${failures[1]!}`);
  });

  it("requeues at the time the handler returns", async () => {
    let calls = 0;
    const queue = new WorkQueue(
      () => {
        calls++;
        return Promise.resolve(calls === 1 ? { requeueAt: Date.now() + 20 } : undefined);
      },
      { workers: 1 },
    );
    queue.add("k");
    await sleep(80);
    queue.stop();
    assert.equal(calls, 2);
  });
});
