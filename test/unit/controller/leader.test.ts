/**
 * The leader elector's timing, on a fake clock against an in-memory Lease store that keeps the
 * API's resourceVersion rules (404 for a missing Lease, 409 for a stale write). What the real API
 * does is tested in test/integration/leader-election.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException, V1MicroTime, type V1Lease } from "@kubernetes/client-node";

import { LeaderElector, type LeaseClient } from "../../../src/controller/leader.ts";
import { FakeClock, settle } from "../fake-clock.ts";

const t0 = Date.UTC(2026, 10, 22, 10);
const timing = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 };
/** A candidate retries every retryPeriod plus up to 20 %. */
const longestRetry = timing.retryPeriodMs * 1.2;

type Request<M extends keyof LeaseClient> = Parameters<LeaseClient[M]>[0];

const serverError = (): Promise<never> =>
  Promise.reject(new ApiException(500, "InternalError", undefined, {}));

/** One namespace's Leases, kept as the API keeps them. */
class LeaseStore implements LeaseClient {
  readonly #leases = new Map<string, V1Lease>();
  #version = 0;
  /** When true, every call fails with HTTP 500. */
  failing = false;
  /** When true, every call hangs (a stalled API server or etcd): it never answers. */
  hanging = false;
  /** Every successful write: who wrote, and the renewTime it wrote. */
  readonly writes: { holder: string; renewTime: number }[] = [];

  holder(name = "lease"): string | undefined {
    return this.#leases.get(name)?.spec?.holderIdentity;
  }

  lease(name = "lease"): V1Lease | undefined {
    return this.#leases.get(name);
  }

  /** Another process writes the Lease (a new resourceVersion). */
  put(name: string, spec: NonNullable<V1Lease["spec"]>): void {
    this.#leases.set(name, { metadata: { name, resourceVersion: String(++this.#version) }, spec });
  }

  readNamespacedLease(request: Request<"readNamespacedLease">): Promise<V1Lease> {
    if (this.hanging) return new Promise(() => undefined);
    if (this.failing) return serverError();
    const lease = this.#leases.get(request.name);
    if (lease === undefined) return Promise.reject(new ApiException(404, "NotFound", undefined, {}));
    return Promise.resolve(structuredClone(lease));
  }

  createNamespacedLease(request: Request<"createNamespacedLease">): Promise<V1Lease> {
    if (this.hanging) return new Promise(() => undefined);
    if (this.failing) return serverError();
    const name = request.body.metadata?.name ?? "";
    if (this.#leases.has(name)) return Promise.reject(new ApiException(409, "AlreadyExists", undefined, {}));
    return Promise.resolve(this.#write(name, request.body));
  }

  replaceNamespacedLease(request: Request<"replaceNamespacedLease">): Promise<V1Lease> {
    if (this.hanging) return new Promise(() => undefined);
    if (this.failing) return serverError();
    const stored = this.#leases.get(request.name);
    if (stored === undefined) return Promise.reject(new ApiException(404, "NotFound", undefined, {}));
    if (request.body.metadata?.resourceVersion !== stored.metadata?.resourceVersion) {
      return Promise.reject(new ApiException(409, "Conflict", undefined, {}));
    }
    return Promise.resolve(this.#write(request.name, request.body));
  }

  #write(name: string, body: V1Lease): V1Lease {
    const lease = { ...body, metadata: { ...body.metadata, name, resourceVersion: String(++this.#version) } };
    this.#leases.set(name, lease);
    this.writes.push({
      holder: lease.spec?.holderIdentity ?? "",
      renewTime: new Date(lease.spec?.renewTime ?? 0).getTime(),
    });
    return structuredClone(lease);
  }
}

/** A candidate on `store` and `clock`, with what its callbacks saw (clock instants). */
function candidate(store: LeaseStore, clock: FakeClock, identity: string) {
  const elector = new LeaderElector(store, { namespace: "ns", name: "lease", identity, clock, ...timing });
  let startedAt: number | undefined;
  let stoppedAt: number | undefined;
  const errors: unknown[] = [];
  const done = elector.run({
    onStartedLeading: () => (startedAt = clock.now()),
    onStoppedLeading: () => (stoppedAt = clock.now()),
    onError: (err) => errors.push(err),
  });
  return { elector, startedAt: () => startedAt, stoppedAt: () => stoppedAt, errors, done };
}

/** Whether `promise` has settled (once the promise callbacks queued so far have run). */
async function ended(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.finally(() => (done = true));
  await settle();
  return done;
}

/** A repeating timer on `clock`; returns its cancel. */
function every(clock: FakeClock, ms: number, tick: () => void): () => void {
  let cancel = clock.schedule(function fire() {
    tick();
    cancel = clock.schedule(fire, ms);
  }, ms);
  return () => cancel();
}

describe("LeaderElector", () => {
  it("takes a free Lease at once, renews it every retry period, and release() empties it with no write after", async () => {
    const clock = new FakeClock(t0);
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.runTo(t0);
    assert.equal(a.startedAt(), t0);
    assert.ok(a.elector.isLeader);
    const spec = store.lease()?.spec;
    assert.equal(spec?.holderIdentity, "a");
    assert.equal(spec.leaseDurationSeconds, 4, "leaseDuration in whole seconds");
    assert.equal(spec.leaseTransitions, 0);
    assert.equal(new Date(spec.acquireTime ?? 0).getTime(), t0);
    assert.equal(new Date(spec.renewTime ?? 0).getTime(), t0);
    await clock.runFor(3000);
    assert.deepEqual(
      store.writes.map((w) => w.renewTime - t0),
      [0, 1000, 2000, 3000],
      "a renewal every retry period, stamped with the elector's clock",
    );
    await a.elector.release();
    assert.equal(store.holder(), "");
    assert.equal(store.lease()?.spec?.leaseDurationSeconds, 1);
    await clock.runFor(5 * timing.retryPeriodMs);
    assert.ok(await ended(a.done), "run() ends at its next wake-up");
    assert.equal(store.writes.length, 5, "the renewals and the release, nothing after it");
    assert.equal(a.stoppedAt(), undefined, "releasing is not losing the lease");
    assert.deepEqual(a.errors, []);
  });

  it("of two candidates starting together, exactly one leads (a lost race is not an error)", async () => {
    const clock = new FakeClock(t0);
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    const b = candidate(store, clock, "b");
    await clock.runFor(10 * timing.leaseDurationMs);
    const leaders = [a, b].filter((c) => c.elector.isLeader);
    assert.equal(leaders.length, 1);
    assert.equal(store.holder(), leaders[0] === a ? "a" : "b");
    assert.deepEqual(
      [a, b].map((c) => c.startedAt() !== undefined),
      [a, b].map((c) => c.elector.isLeader),
    );
    assert.deepEqual([...a.errors, ...b.errors], []);
    assert.ok(
      store.writes.every((w) => w.holder === store.holder()),
      "the follower never wrote",
    );
  });

  it("waits out another holder for leaseDuration on its own clock, whatever the holder's timestamps say", async () => {
    const clock = new FakeClock(t0);
    const store = new LeaseStore();
    // A holder's renewTime from a clock far behind: only the record's changes count.
    const stale = new V1MicroTime(Date.UTC(2000, 0, 1));
    store.put("lease", {
      holderIdentity: "other",
      leaseDurationSeconds: 4,
      renewTime: stale,
      leaseTransitions: 3,
    });
    const b = candidate(store, clock, "b");
    await clock.runTo(t0 + timing.leaseDurationMs);
    assert.equal(b.startedAt(), undefined, "not before the lease duration has passed on its clock");
    assert.equal(store.holder(), "other");
    await clock.runFor(longestRetry);
    const took = b.startedAt();
    assert.ok(took !== undefined, "within one retry period after");
    assert.ok(took > t0 + timing.leaseDurationMs);
    assert.equal(store.holder(), "b");
    assert.equal(store.lease()?.spec?.leaseTransitions, 4);
    assert.equal(
      new Date(store.lease()?.spec?.acquireTime ?? 0).getTime(),
      Math.floor(took),
      "acquired then",
    );
    await b.elector.release();
  });

  it("stays out while the holder keeps renewing; takes over leaseDuration after the last renewal it saw", async () => {
    const clock = new FakeClock(t0);
    const store = new LeaseStore();
    const renew = (): void => store.put("lease", { holderIdentity: "other", leaseDurationSeconds: 4 });
    renew();
    const stopRenewing = every(clock, 2000, renew);
    const b = candidate(store, clock, "b");
    await clock.runFor(30_000);
    assert.equal(b.startedAt(), undefined);
    assert.equal(store.holder(), "other");
    stopRenewing();
    const lastRenewal = clock.now() - ((clock.now() - t0) % 2000);
    await clock.runFor(timing.leaseDurationMs + 2 * longestRetry);
    const took = b.startedAt();
    assert.ok(took !== undefined, "took over");
    // It saw the last renewal within one retry period of it, and waited leaseDuration from then.
    assert.ok(took > lastRenewal + timing.leaseDurationMs, `at ${took - lastRenewal} ms`);
    assert.ok(took <= lastRenewal + timing.leaseDurationMs + 2 * longestRetry);
    await b.elector.release();
  });

  it("steps down when it could not renew within renewDeadline, before anyone could see the lease expired", async () => {
    const clock = new FakeClock(t0);
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.runFor(2000);
    const lastRenew = store.writes.at(-1)!.renewTime;
    assert.equal(lastRenew, t0 + 2000);
    store.failing = true;
    await clock.runFor(10_000);
    assert.ok(await ended(a.done), "run() ends when it steps down");
    assert.equal(a.elector.isLeader, false);
    // Failed renewals at +1 s and +2 s; at +3 s no time is left before the deadline: step down.
    const stoppedAt = a.stoppedAt();
    assert.equal(stoppedAt, lastRenew + 3000);
    assert.ok(stoppedAt - lastRenew <= timing.renewDeadlineMs);
    assert.ok(stoppedAt < lastRenew + timing.leaseDurationMs);
    assert.equal(a.errors.length, 2, "each failed renewal is reported");
    assert.ok(a.errors.every((e) => e instanceof ApiException && e.code === 500));
  });

  it("a renewal that hangs counts as failed: the leader steps down by renewDeadline, and another takes over", async () => {
    const clock = new FakeClock(t0);
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.runFor(2000);
    const lastRenew = store.writes.at(-1)!.renewTime;
    store.hanging = true;
    await clock.runFor(10_000);
    assert.ok(await ended(a.done), "run() ends when it steps down");
    assert.equal(a.elector.isLeader, false);
    const stoppedAt = a.stoppedAt()!;
    console.log(
      `# a hung renewal: the leader stepped down ${stoppedAt - lastRenew} ms after its last renewal (renewDeadline ${timing.renewDeadlineMs} ms, lease ${timing.leaseDurationMs} ms)`,
    );
    assert.ok(stoppedAt - lastRenew <= timing.renewDeadlineMs, "within renewDeadline");
    assert.ok(stoppedAt < lastRenew + timing.leaseDurationMs, "before anyone could see the lease expired");
    assert.ok(
      a.errors.some((e) => e instanceof Error && e.name === "LeaseRequestTimeout"),
      "the timeout is reported",
    );
    // the API answers again: a second candidate takes the expired lease
    store.hanging = false;
    const b = candidate(store, clock, "b");
    await clock.runFor(timing.leaseDurationMs + 2 * longestRetry);
    assert.equal(store.holder(), "b");
    assert.notEqual(b.startedAt(), undefined);
    await b.elector.release();
  });

  it("a released lease is taken by a waiting candidate at its next retry, without waiting for expiry", async () => {
    const clock = new FakeClock(t0);
    const store = new LeaseStore();
    const a = candidate(store, clock, "a");
    await clock.runTo(t0);
    const b = candidate(store, clock, "b");
    await clock.runFor(2500);
    assert.equal(b.startedAt(), undefined);
    const releasedAt = clock.now();
    await a.elector.release();
    await clock.runFor(longestRetry);
    const took = b.startedAt();
    assert.ok(took !== undefined, "taken within one retry period");
    assert.ok(took - releasedAt < timing.leaseDurationMs);
    assert.equal(store.holder(), "b");
    assert.ok(await ended(a.done));
    await b.elector.release();
  });
});
