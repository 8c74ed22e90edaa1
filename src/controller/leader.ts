/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it
 * (client-node has no helper). A candidate takes the Lease when it is free, released, or when
 * its record has not changed for leaseDuration as measured on the candidate's own clock (so
 * clock skew between nodes does not matter); every write uses the Lease's resourceVersion, so
 * two candidates can never both win. The leader renews every retryPeriod and gives up when it
 * could not renew within renewDeadline. release() empties the holder so a successor need not
 * wait for expiry.
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
  /** Default keepAliveClock (real time). */
  clock?: Clock;
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
  private observed: { resourceVersion: string; at: number } | undefined;
  private leading = false;
  private stopped = false;

  /** `api`: the cluster's KubeConfig, or a client of its Lease API. */
  constructor(api: k8s.KubeConfig | LeaseClient, options: LeaderElectionOptions) {
    // A KubeConfig (duck-typed: the caller's copy of client-node may not be this one) or a client.
    this.api = "makeApiClient" in api ? api.makeApiClient(k8s.CoordinationV1Api) : api;
    this.options = options;
    this.clock = options.clock ?? keepAliveClock;
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
      if (await this.tryAcquireOrRenew(callbacks)) {
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
      if (await this.tryAcquireOrRenew(callbacks)) {
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
