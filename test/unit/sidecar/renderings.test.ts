/**
 * The sidecar's renderings with a constant key count (nginx slots, the HAProxy window), and the
 * plan of `set ssl tls-key` pushes between HAProxy windows, along a real schedule.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import fc from "fast-check";

import {
  activeKey,
  keyId,
  liveKeys,
  nextRing,
  nextStateChange,
  orderedForServing,
  renderHaproxy,
  renderKey,
  renderNginx,
  type Key,
  type Ring,
} from "../../../src/core/index.ts";
import { afterPushes, planPushes, pushesNeeded } from "../../../src/sidecar/haproxy-plan.ts";
import {
  formatFiles,
  haproxyKeyBytes,
  haproxyKeysFile,
  haproxyWindow,
  nginxSlotFiles,
} from "../../../src/sidecar/renderings.ts";
import { seededRandom } from "../core/helpers.ts";
import { hour, ringHistory, t0 } from "../consumer/support.ts";

const ids = (keys: readonly Key[]): string[] => keys.map((key) => keyId(key));
const spec = { rotationIntervalMs: hour, retiredKeys: 1, suspend: false };

/** Every view a sidecar applies along a schedule: each ring on receipt, then each state change. */
function views(rotations: number): { ring: Ring; now: number; cause: string }[] {
  const random = seededRandom("server-sidecar");
  const out: { ring: Ring; now: number; cause: string }[] = [];
  let result = nextRing({ previous: undefined, spec, now: t0, random });
  let now = t0;
  for (let i = 0; i < rotations; i++) {
    out.push({ ring: result.ring, now, cause: "ring" });
    // the consumer's clock: every state change before the controller's next wake-up
    for (let at = nextStateChange(result.ring, now); at !== undefined && at < result.nextWake;) {
      out.push({ ring: result.ring, now: at, cause: "instant" });
      at = nextStateChange(result.ring, at);
    }
    // the key state change at the wake-up itself is seen before the controller's new ring
    now = result.nextWake;
    out.push({ ring: result.ring, now, cause: "instant" });
    // the controller writes its next ring a little later (reconcile + propagation)
    now += 250;
    result = nextRing({ previous: result.ring, spec, now, random });
  }
  return out;
}

describe("nginx slots", () => {
  const [ring] = ringHistory(0);

  it("slot 0 is the active key, then the core order; the count is exactly `slots`", () => {
    const now = t0 + 1000;
    const files = nginxSlotFiles(ring!, "AES256", now, 3);
    assert.deepEqual([...files.keys()], ["nginx-0.key", "nginx-1.key", "nginx-2.key"]);
    assert.deepEqual([...files.values()], renderNginx(ring!, "AES256", now));
    assert.ok(files.get("nginx-0.key")!.subarray(0, 16).equals(activeKey(ring!, now)!.name));
    for (const bytes of files.values()) assert.equal(bytes.length, 80);
    for (const bytes of nginxSlotFiles(ring!, "AES128", now, 3).values()) assert.equal(bytes.length, 48);
  });

  it("fewer live keys than slots: the last (oldest decrypt-only) key repeats; more: the oldest retired are left out", () => {
    // Right after an activation, before the controller's next ring: 2 live keys.
    const pending = ring!.keys.find((k) => k.activeFrom > t0)!;
    const now = pending.activeFrom;
    assert.equal(liveKeys(ring!, now).length, 2);
    const files = [...nginxSlotFiles(ring!, "AES256", now, 3).values()];
    const order = orderedForServing(ring!, now);
    assert.deepEqual(
      files.map((b) => b.subarray(0, 4).toString("hex")),
      [order[0]!, order[1]!, order[1]!].map((k) => keyId(k)),
    );
    const four = [...nginxSlotFiles(ring!, "AES256", t0 + 1000, 4).values()];
    assert.equal(four.length, 4);
    assert.ok(four[3]!.equals(four[2]!));
    const two = [...nginxSlotFiles(ring!, "AES256", t0 + 1000, 2).values()];
    assert.deepEqual(two, renderNginx(ring!, "AES256", t0 + 1000).slice(0, 2));
  });

  it("along the schedule: always `slots` files, slot 0 the active key, every live key present", () => {
    for (const { ring: r, now } of views(6)) {
      const files = [...nginxSlotFiles(r, "AES256", now, 3).values()];
      assert.equal(files.length, 3);
      assert.ok(files[0]!.subarray(0, 16).equals(activeKey(r, now)!.name));
      const names = new Set(files.map((b) => b.subarray(0, 16).toString("hex")));
      for (const key of liveKeys(r, now)) assert.ok(names.has(key.name.toString("hex")));
    }
  });
});

describe("the HAProxy window", () => {
  it("is the tail of the core rendering, active penultimate, padded in front with the last key", () => {
    const [ring] = ringHistory(0);
    const now = t0 + 1000;
    const window = haproxyWindow(ring!, now, 3);
    assert.deepEqual(haproxyKeysFile(haproxyKeyBytes(window, "AES256")), renderHaproxy(ring!, "AES256", now));
    assert.equal(keyId(window[1]!), keyId(activeKey(ring!, now)!));
    const pending = ring!.keys.find((k) => k.activeFrom > t0)!;
    const after = haproxyWindow(ring!, pending.activeFrom, 3);
    // [R, A, R]: the key that just stopped repeats in front
    assert.deepEqual(ids(after), ids([after[2]!, pending, after[2]!]));
    assert.equal(ids(haproxyWindow({ keys: [ring!.keys[1]!] }, now, 3)).length, 3);
  });

  it("along the schedule: at most 2 pushes per change, every live key held, the active key encrypting, even in between", () => {
    let held: Buffer[] | undefined;
    const pushes: Record<string, number[]> = { ring: [], instant: [] };
    for (const { ring: r, now, cause } of views(8)) {
      const target = haproxyKeyBytes(haproxyWindow(r, now, 3), "AES256");
      const live = new Set(liveKeys(r, now).map((key) => key.name.toString("hex")));
      const names = new Set(target.map((b) => b.subarray(0, 16).toString("hex")));
      for (const key of live) assert.ok(names.has(key), "every live key is held");
      assert.ok(target[1]!.subarray(0, 16).equals(activeKey(r, now)!.name), "the penultimate key is active");
      if (held !== undefined) {
        const plan = planPushes(held, target);
        pushes[cause]!.push(plan.length);
        assert.deepEqual(afterPushes(held, plan), target);
        // The states between the pushes of one command line encrypt with a live key.
        for (let i = 1; i < plan.length; i++) {
          const between = afterPushes(held, plan.slice(0, i));
          assert.ok(
            live.has(between[1]!.subarray(0, 16).toString("hex")),
            "an intermediate state encrypts with a live key",
          );
        }
      }
      held = target;
    }
    // The activation itself is one push; the controller's next ring two. When the controller
    // rotates late, the old retired key expires (by the clock) just before the activation: two
    // pushes at that expiry, then one at the activation.
    assert.ok(Math.max(...pushes["instant"]!, ...pushes["ring"]!) <= 2);
    assert.ok(pushes["instant"]!.includes(1));
    assert.deepEqual([...new Set(pushes["ring"])], [2]);
  });
});

describe("planPushes (the model of set ssl tls-key: overwrite the oldest, shift)", () => {
  const key = (n: number): Buffer => Buffer.alloc(4, n);

  it("examples", () => {
    const [a, b, c, d] = [key(1), key(2), key(3), key(4)];
    assert.equal(pushesNeeded([a, b, c], [a, b, c]), 0);
    assert.deepEqual(planPushes([a, b, c], [b, c, d]), [d]);
    assert.deepEqual(planPushes([a, b, c], [c, d, a]), [d, a]);
    assert.deepEqual(planPushes([a, b, c], [c, b, a]), [c, b, a].slice(1));
    assert.deepEqual(planPushes([a, b, c], [d, d, d]), [d, d, d]);
    assert.equal(pushesNeeded([a, b], [a, b, c]), 3);
  });

  it("reaches the target with the fewest pushes (property)", () => {
    const window = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(window, window, (from, to) => {
        const current = from.map(key);
        const target = to.map(key);
        const plan = planPushes(current, target);
        assert.deepEqual(afterPushes(current, plan), target);
        for (let m = 0; m < plan.length; m++) {
          assert.notDeepEqual(afterPushes(current, target.slice(3 - m)), target, `${m} pushes would do`);
        }
      }),
    );
  });
});

describe("--server files", () => {
  it("writes every format asked for, nginx and HAProxy with constant counts, the others as in the Secret", () => {
    const [ring] = ringHistory(0);
    const now = t0 + 1000;
    const files = formatFiles(ring!, now, {
      formats: ["nginx", "haproxy", "envoy", "ats", "go", "node"],
      cipher: "AES128",
      slots: 4,
      haproxyKeys: 3,
    });
    assert.deepEqual(
      [...files.keys()],
      [
        "nginx-0.key",
        "nginx-1.key",
        "nginx-2.key",
        "nginx-3.key",
        "haproxy.keys",
        "envoy-sds.yaml",
        "ats.keys",
        "go.keys",
        "node.key",
      ],
    );
    assert.ok(files.get("node.key")!.equals(renderKey(activeKey(ring!, now)!, "node", 48)));
    assert.equal(files.get("haproxy.keys")!.toString().trim().split("\n").length, 3);
  });
});
