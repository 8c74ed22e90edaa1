import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { keyId, type Key, type Ring } from "../../../src/core/index.ts";
import { maxTimerMs, type Clock } from "../../../src/consumer/clock.ts";
import { RingClock, type RingView } from "../../../src/consumer/ring-clock.ts";
import { FakeClock, hour, ringHistory, t0 } from "./support.ts";

const ids = (keys: readonly Key[]): string[] => keys.map((key) => keyId(key));

function follow(clock: Clock, ring: Ring, maxWaitMs?: number): { ringClock: RingClock; views: RingView[] } {
  const ringClock = new RingClock(maxWaitMs === undefined ? { clock } : { clock, maxWaitMs });
  const views: RingView[] = [];
  ringClock.on("change", (view) => views.push(view));
  ringClock.update(ring);
  return { ringClock, views };
}

describe("RingClock", () => {
  const [ring] = ringHistory(0);
  const [pad, active, pending] = ring!.keys as [Key, Key, Key];

  it("emits at once for a new ring, with the keys by state", () => {
    const clock = new FakeClock(t0 + 1000);
    const { views } = follow(clock, ring!);
    assert.equal(views.length, 1);
    const view = views[0]!;
    assert.equal(view.cause, "update");
    assert.equal(view.at, t0 + 1000);
    assert.equal(keyId(view.active), keyId(active));
    assert.deepEqual(ids(view.pending), ids([pending]));
    assert.deepEqual(ids(view.retired), ids([pad]));
    assert.deepEqual(ids(view.live), ids([active, pending, pad]));
    assert.equal(view.nextChange, pad.expiresAt);
  });

  it("fires at the activation and expiry instants, and drops expired keys with no update", () => {
    const clock = new FakeClock(t0 + 1000);
    const { views } = follow(clock, ring!);
    // The pad (retired) expires at t0 + 1 h, exactly when the pending key activates.
    assert.equal(pad.expiresAt, pending.activeFrom);
    clock.advanceTo(pending.activeFrom - 1);
    assert.equal(views.length, 1, "nothing before the instant");
    clock.advanceTo(pending.activeFrom);
    assert.equal(views.length, 2);
    const switched = views[1]!;
    assert.equal(switched.cause, "schedule");
    assert.equal(switched.at, pending.activeFrom);
    assert.equal(keyId(switched.active), keyId(pending));
    assert.deepEqual(ids(switched.retired), ids([active]), "the pad is gone, the old active key is retired");
    assert.deepEqual(switched.pending, []);
    // No new ring arrives (the controller is down): the old active key expires on time.
    clock.advanceTo(active.expiresAt);
    assert.equal(views.length, 3);
    assert.deepEqual(ids(views[2]!.live), ids([pending]));
    assert.equal(views[2]!.nextChange, undefined);
    clock.advanceTo(t0 + 100 * hour);
    assert.equal(views.length, 3, "no change is left: the last key keeps encrypting");
    assert.equal(clock.pending, 0, "no timer is left");
  });

  it("re-plans from each new ring and ignores the same ring twice", () => {
    const clock = new FakeClock(t0 + 1000);
    const rings = ringHistory(2);
    const { ringClock, views } = follow(clock, rings[0]!);
    ringClock.update(rings[0]!);
    assert.equal(views.length, 1);
    clock.advanceTo(t0 + hour + 1000);
    ringClock.update(rings[1]!);
    assert.equal(views.length, 3);
    assert.equal(views[2]!.cause, "update");
    assert.equal(views[2]!.pending.length, 1, "the new pending key is live");
    assert.equal(clock.pending, 1, "a single timer");
  });

  it("waits at most maxWaitMs at a time, and never longer than setTimeout allows", () => {
    const clock = new FakeClock(t0 + 1000);
    const waits: number[] = [];
    const recording: Clock = {
      now: () => clock.now(),
      schedule: (callback, ms) => {
        waits.push(ms);
        return clock.schedule(callback, ms);
      },
    };
    const { views } = follow(recording, ring!, 10 * 60_000);
    clock.advanceTo(pending.activeFrom);
    assert.equal(views.length, 2);
    assert.ok(waits.length >= 6, "re-checked every 10 minutes");
    assert.ok(waits.every((ms) => ms <= 10 * 60_000));
    const capped = follow(recording, ring!, 2 ** 40);
    waits.length = 0;
    capped.ringClock.update(ringHistory(0, t0, "other")[0]!);
    assert.ok(waits.every((ms) => ms <= maxTimerMs));
  });

  it("waits again when a timer fires early", () => {
    let now = t0 + 1000;
    let due: (() => void) | undefined;
    const early: Clock = {
      now: () => now,
      schedule: (callback) => {
        due = callback;
        return () => (due = undefined);
      },
    };
    const { views } = follow(early, ring!);
    now = pending.activeFrom - 1; // a timer that fires a millisecond early
    due?.();
    assert.equal(views.length, 1);
    now = pending.activeFrom;
    due?.();
    assert.equal(views.length, 2);
  });

  it("stops", () => {
    const clock = new FakeClock(t0 + 1000);
    const { ringClock, views } = follow(clock, ring!);
    ringClock.stop();
    assert.equal(clock.pending, 0);
    clock.advanceTo(t0 + 10 * hour);
    ringClock.update(ringHistory(1)[1]!);
    assert.equal(views.length, 1);
  });
});
