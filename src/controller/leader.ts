/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it
 * (client-node has no helper). A candidate takes the Lease when it is free, released, or when
 * its record has not changed for leaseDuration as measured on the candidate's own clock (so
 * clock skew between nodes does not matter); every write uses the Lease's resourceVersion, so
 * two candidates can never both win. The leader renews every retryPeriod and gives up when it
 * could not renew within renewDeadline. Every attempt (read, then create or replace) has a
 * deadline: a leader's renewal may take only the time left until its renewDeadline, a candidate's
 * attempt at most `requestTimeoutMs`. A request that hangs (an API or etcd stalled, a partition)
 * counts as a failed attempt, so a leader that cannot renew steps down by its renewDeadline
 * instead of acting on while another replica takes over. release() empties the holder so a
 * successor need not wait for expiry.
 */
import * as k8s from "@kubernetes/client-node";

import { keepAliveClock, sleep, type Clock } from "../consumer/clock.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** How long one attempt may take before it counts as failed; default renewDeadlineMs. */
  requestTimeoutMs?: number;
  /** Default keepAliveClock (real time). */
  clock?: Clock;
}

/** An attempt that took longer than requestTimeoutMs (its request may still complete later). */
export class LeaseRequestTimeout extends Error {
  override readonly name = "LeaseRequestTimeout";
}

/** The Lease calls the elector makes (those of CoordinationV1Api). */
export type LeaseClient = Pick<
  k8s.CoordinationV1Api,
  "readNamespacedLease" | "createNamespacedLease" | "replaceNamespacedLease"
>;

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
}

export class LeaderElector {
  private readonly api: LeaseClient;
  private readonly options: LeaderElectionOptions;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;
  private observed: { resourceVersion: string; at: number } | undefined;
  private leading = false;
  private stopped = false;

  /** `api`: the cluster's KubeConfig, or a client of its Lease API. */
  constructor(api: k8s.KubeConfig | LeaseClient, options: LeaderElectionOptions) {
    // A KubeConfig (duck-typed: the caller's copy of client-node may not be this one) or a client.
    this.api = "makeApiClient" in api ? api.makeApiClient(k8s.CoordinationV1Api) : api;
    this.options = options;
    this.clock = options.clock ?? keepAliveClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? options.renewDeadlineMs;
  }

  /** One attempt, bounded by `ms`: a hung request is a failed attempt. */
  private attempt(callbacks: LeaderCallbacks, ms = this.requestTimeoutMs): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const cancel = this.clock.schedule(() => {
        callbacks.onError?.(new LeaseRequestTimeout(`the Lease request took longer than ${ms} ms`));
        resolve(false);
      }, ms);
      void this.tryAcquireOrRenew(callbacks).then((won) => {
        cancel();
        resolve(won);
      });
    });
  }

  private get isStopped(): boolean {
    return this.stopped;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until elected, then renews until the lease is lost or stop() is called. */
  async run(callbacks: LeaderCallbacks): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    while (!this.stopped && !this.leading) {
      if (await this.attempt(callbacks)) {
        this.leading = true;
        callbacks.onStartedLeading();
        break;
      }
      await sleep(this.clock, retryPeriodMs * (1 + Math.random() * 0.2));
    }
    let lastRenew = this.clock.now();
    while (!this.stopped && this.leading) {
      await sleep(this.clock, retryPeriodMs);
      if (this.isStopped) break; // release() ran while we slept: never re-acquire
      const left = lastRenew + renewDeadlineMs - this.clock.now();
      if (left > 0 && (await this.attempt(callbacks, Math.min(left, this.requestTimeoutMs)))) {
        lastRenew = this.clock.now();
      } else if (this.clock.now() + retryPeriodMs - lastRenew > renewDeadlineMs) {
        // The next attempt would come after the deadline: step down now, before any candidate
        // can see the lease as expired (leaseDuration > renewDeadline after the last renewal).
        this.leading = false;
        callbacks.onStoppedLeading();
      }
    }
  }

  /** Stops campaigning; if leading, empties the holder so another candidate takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
      });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      await this.api.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: "",
            leaseDurationSeconds: 1,
            renewTime: new k8s.V1MicroTime(this.clock.now()),
          },
        },
      });
    } catch {
      // The lease expires by itself.
    }
  }

  private async tryAcquireOrRenew(callbacks: LeaderCallbacks): Promise<boolean> {
    const { name, namespace, identity, leaseDurationMs } = this.options;
    const now = new k8s.V1MicroTime(this.clock.now());
    const durationSeconds = Math.max(1, Math.round(leaseDurationMs / 1000));
    try {
      let lease: k8s.V1Lease;
      try {
        lease = await this.api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (!(err instanceof k8s.ApiException) || err.code !== 404) throw err;
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        });
        return true;
      }
      const rv = lease.metadata?.resourceVersion ?? "";
      if (this.observed?.resourceVersion !== rv) {
        this.observed = { resourceVersion: rv, at: this.clock.now() };
      }
      const holder = lease.spec?.holderIdentity ?? "";
      const held = (lease.spec?.leaseDurationSeconds ?? durationSeconds) * 1000;
      const expired = this.clock.now() > this.observed.at + held;
      if (holder !== "" && holder !== identity && !expired) return false;
      const transition = holder !== identity;
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            renewTime: now,
            ...(transition
              ? { acquireTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 }
              : {}),
          },
        },
      });
      return true;
    } catch (err) {
      // 409: someone else wrote first; anything else: try again next period.
      if (!(err instanceof k8s.ApiException && err.code === 409)) callbacks.onError?.(err);
      return false;
    }
  }
}
