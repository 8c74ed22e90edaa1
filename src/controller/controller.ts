/**
 * The TicketKeyPolicy controller: informers for policies and for the Secrets it manages (by
 * label, so no other Secret is ever cached), a de-duplicating work queue, and for each policy
 * the pure reconcile of reconcile.ts, whose outcome it persists. It wakes a policy exactly when
 * the reconcile says something must change next, never by polling.
 */
import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import {
  group,
  managedByLabel,
  managedByValue,
  plural,
  policyLabel,
  supersededByAnnotation,
  version,
} from "../api/names.ts";
import { parseSpec, policyObjectSchema, type PolicyObject, type PolicyStatus } from "../api/policy.ts";
import { apiFailure } from "../kube/errors.ts";
import { describeError, type Logger } from "../observability/log.ts";
import { supervisedInformer, type SupervisedInformer } from "../kube/informer.ts";
import type { ControllerMetrics } from "./metrics.ts";
import { WorkQueue } from "./queue.ts";
import { reconcile, writeFailure, type HeldRing, type PolicyEvent } from "./reconcile.ts";
import { previousStatus } from "./reconcile/condition.ts";
import { supersededSecret } from "./reconcile/secret.ts";
import { withoutSecretData } from "./redaction.ts";
import { ownedBy } from "./ownership.ts";
import { sameStatus } from "./status.ts";
import { Writer } from "./writer.ts";

export interface ControllerOptions {
  /** namespaces to watch; empty = all */
  namespaces: string[];
  workers: number;
  log: Logger;
  metrics: ControllerMetrics;
  /** identifies this process in Events */
  instance: string;
}

type Policy = k8s.KubernetesObject & { spec?: unknown; status?: unknown };

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

export class Controller {
  private readonly policies: SupervisedInformer<Policy>[] = [];
  private readonly secrets: SupervisedInformer<k8s.V1Secret>[] = [];
  private readonly queue: WorkQueue;
  private readonly writer: Writer;
  private readonly options: ControllerOptions;
  /** Secrets we wrote whose new version the informer has not delivered yet (by the version it replaced). */
  private readonly written = new Map<string, { replaced: string | undefined; secret: k8s.V1Secret }>();
  /**
   * By policy uid: the ring last written or read as good (reconcile/read.ts restores it over an
   * edited, replayed or deleted ring.json). Memory only: a new leader starts from the Secret.
   */
  private readonly held = new Map<string, HeldRing>();
  private synced = false;

  constructor(kc: k8s.KubeConfig, options: ControllerOptions) {
    this.options = options;
    this.writer = new Writer(kc, options.instance);
    this.queue = new WorkQueue((key) => this.reconcileKey(key), {
      workers: options.workers,
      onError: (key, err, retryIn) => {
        const [namespace = "", policy = ""] = key.split("/");
        options.metrics.reconcileErrors.inc({ namespace, policy });
        options.log.warn(
          { policy: key, retryInMs: retryIn, err: describeError(err) },
          "reconcile failed; retrying",
        );
      },
    });
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const selector = `${managedByLabel}=${managedByValue}`;
    const scopes = options.namespaces.length > 0 ? options.namespaces : [undefined];
    for (const ns of scopes) {
      const prefix = ns === undefined ? "" : `/namespaces/${ns}`;
      this.policies.push(
        supervisedInformer<Policy>(kc, {
          path: `/apis/${group}/${version}${prefix}/${plural}`,
          list: () =>
            (ns === undefined
              ? custom.listClusterCustomObject({ group, version, plural })
              : custom.listNamespacedCustomObject({ group, version, plural, namespace: ns })) as Promise<
              k8s.KubernetesListObject<Policy>
            >,
          onChange: (obj, verb) => this.onPolicy(obj, verb),
          onError: (err, retryIn) =>
            options.log.warn(
              { err: describeError(err), retryInMs: retryIn },
              apiFailure(err).status === 404
                ? `the ${plural}.${group} API is not served: install the CustomResourceDefinition (crds/ or the Helm chart); retrying`
                : "policy watch failed; restarting",
            ),
        }),
      );
      this.secrets.push(
        supervisedInformer<k8s.V1Secret>(kc, {
          path: `/api/v1${prefix}/secrets`,
          labelSelector: selector,
          list: () =>
            ns === undefined
              ? core.listSecretForAllNamespaces({ labelSelector: selector })
              : core.listNamespacedSecret({ namespace: ns, labelSelector: selector }),
          onChange: (obj) => this.onSecret(obj),
          onError: (err, retryIn) =>
            options.log.warn(
              { err: describeError(err), retryInMs: retryIn },
              "secret watch failed; restarting",
            ),
        }),
      );
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.policies, ...this.secrets].map((i) => i.start()));
    this.synced = true;
    for (const informer of this.policies) {
      for (const p of informer.list()) this.enqueue(p);
    }
    this.options.log.info(
      { namespaces: this.options.namespaces.length > 0 ? this.options.namespaces : "all" },
      "controller started",
    );
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all([...this.policies, ...this.secrets].map((i) => i.stop()));
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private enqueue(obj: k8s.KubernetesObject): void {
    const { name, namespace } = obj.metadata ?? {};
    if (name !== undefined && namespace !== undefined) this.queue.add(keyOf(namespace, name));
  }

  private onPolicy(obj: Policy, verb: string): void {
    if (!this.synced) return;
    if (verb === "delete") {
      const { name = "", namespace = "", uid = "" } = obj.metadata ?? {};
      this.held.delete(uid);
      this.queue.forget(keyOf(namespace, name));
      this.options.metrics.ready.remove({ namespace, policy: name });
      this.options.metrics.nextRotation.remove({ namespace, policy: name });
      return;
    }
    this.enqueue(obj);
  }

  private onSecret(secret: k8s.V1Secret): void {
    const policy = secret.metadata?.labels?.[policyLabel];
    const namespace = secret.metadata?.namespace;
    // The informer caught up with (or went past) what we wrote: drop our copy.
    const key = keyOf(namespace ?? "", secret.metadata?.name ?? "");
    if (this.written.get(key)?.replaced !== secret.metadata?.resourceVersion) this.written.delete(key);
    if (this.synced && policy !== undefined && namespace !== undefined)
      this.queue.add(keyOf(namespace, policy));
  }

  private policyFromCache(namespace: string, name: string): Policy | undefined {
    for (const informer of this.policies) {
      const found = informer.get(name, namespace);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** The Secret as last seen, preferring what we wrote until the informer catches up with it. */
  private async currentSecret(namespace: string, name: string): Promise<k8s.V1Secret | undefined> {
    const key = keyOf(namespace, name);
    let cached: k8s.V1Secret | undefined;
    for (const informer of this.secrets) cached ??= informer.get(name, namespace);
    const mine = this.written.get(key);
    if (mine !== undefined) {
      if (cached?.metadata?.resourceVersion === mine.replaced) return mine.secret;
      this.written.delete(key);
    }
    // Not in the cache: absent, or a Secret without our label (never cached): ask the API.
    return cached ?? (await this.writer.readSecret(namespace, name));
  }

  private async reconcileKey(key: string): Promise<{ requeueAt?: number } | undefined> {
    const [namespace = "", name = ""] = key.split("/");
    const raw = this.policyFromCache(namespace, name);
    if (raw === undefined) return;
    const envelope = policyObjectSchema.safeParse(raw);
    if (!envelope.success) {
      this.options.log.error({ policy: key }, "policy object lacks metadata; skipped");
      return;
    }
    const policy: PolicyObject = envelope.data;
    if (policy.metadata.deletionTimestamp !== undefined) return;

    const started = performance.now();
    const parsed = parseSpec(policy.spec);
    const secretName = parsed.ok ? (parsed.spec.secretName ?? name) : undefined;
    const secret = secretName === undefined ? undefined : await this.currentSecret(namespace, secretName);
    const held = this.held.get(policy.metadata.uid);
    const outcome = reconcile({ policy, secret, held, now: Date.now(), random: (n) => randomBytes(n) });

    if (outcome.secret !== undefined && secretName !== undefined) {
      let written: k8s.V1Secret;
      try {
        written = await this.writer.writeSecret(outcome.secret, secret?.metadata?.resourceVersion);
      } catch (err) {
        await this.reportWriteFailure(
          policy,
          secretName,
          withoutSecretData(describeError(err), outcome.secret.data),
        );
        throw err; // retried with backoff by the queue
      }
      this.written.set(keyOf(namespace, secretName), {
        replaced: secret?.metadata?.resourceVersion,
        secret: written,
      });
    }
    // The Secret of an earlier spec.secretName keeps no keys once the new one holds them.
    const previousName = previousStatus(policy).secretName;
    if (
      outcome.held !== undefined &&
      secretName !== undefined &&
      previousName !== undefined &&
      previousName !== secretName
    ) {
      await this.retireSecret(policy, previousName, secretName);
    }
    // Held only once it is in the Secret (written, or read back unchanged).
    if (outcome.held !== undefined) this.held.set(policy.metadata.uid, outcome.held);
    if (!sameStatus(policy.status, outcome.status)) await this.writer.writeStatus(policy, outcome.status);
    await this.record(policy, outcome.events);
    this.observe(namespace, name, outcome.status);
    this.options.metrics.reconcileDuration.observe((performance.now() - started) / 1000);
    return outcome.requeueAt === undefined ? undefined : { requeueAt: outcome.requeueAt };
  }

  /** Empties the policy's previous Secret (if it is still its own and holds data), with an event. */
  private async retireSecret(policy: PolicyObject, oldName: string, newName: string): Promise<void> {
    const { namespace } = policy.metadata;
    const old = await this.currentSecret(namespace, oldName);
    if (old === undefined || !ownedBy(old, policy) || Object.keys(old.data ?? {}).length === 0) return;
    await this.writer.writeSecret(supersededSecret(policy, oldName, newName), old.metadata?.resourceVersion);
    await this.record(policy, [
      {
        type: "Normal",
        reason: "SecretSuperseded",
        message: `spec.secretName is now ${newName}: Secret ${oldName} no longer holds keys (annotated ${supersededByAnnotation}); consumers of it keep their last keys until those expire`,
      },
    ]);
  }

  /** Logs each event, counts the ring changes among them, and records them on the policy. */
  private async record(policy: PolicyObject, events: readonly PolicyEvent[]): Promise<void> {
    const { namespace, name } = policy.metadata;
    const key = keyOf(namespace, name);
    for (const event of events) {
      this.options.log[event.type === "Warning" ? "warn" : "info"](
        { policy: key, reason: event.reason },
        event.message,
      );
      if (["Generated", "Rotated", "Revoked"].includes(event.reason)) {
        this.options.metrics.rotations.inc({ namespace, policy: name, kind: event.reason.toLowerCase() });
      }
      await this.writer.recordEvent(policy, event).catch((err: unknown) => {
        this.options.log.warn({ policy: key, err: describeError(err) }, "could not record event");
      });
    }
  }

  /**
   * The Secret write was refused (admission, quota, RBAC, validation): Ready=False
   * SecretWriteFailed with the API's message, a Warning event, the metric. The keys in force stay
   * what the Secret holds; the reconcile is retried.
   */
  private async reportWriteFailure(policy: PolicyObject, secretName: string, why: string): Promise<void> {
    const { namespace, name } = policy.metadata;
    const key = keyOf(namespace, name);
    this.options.metrics.secretWriteFailures.inc({ namespace, policy: name });
    const failed = writeFailure(policy, secretName, why, Date.now());
    this.options.log.warn({ policy: key, secret: secretName, err: why }, "writing the Secret failed");
    if (!sameStatus(policy.status, failed.status)) {
      await this.writer.writeStatus(policy, failed.status).catch((err: unknown) => {
        this.options.log.warn({ policy: key, err: describeError(err) }, "could not write the status");
      });
    }
    await this.record(policy, failed.events);
    this.observe(namespace, name, failed.status);
  }

  private observe(namespace: string, policy: string, status: PolicyStatus): void {
    const ready = status.conditions?.find((c) => c.type === "Ready")?.status === "True";
    this.options.metrics.ready.set({ namespace, policy }, ready ? 1 : 0);
    if (status.nextRotationTime !== undefined) {
      this.options.metrics.nextRotation.set(
        { namespace, policy },
        Date.parse(status.nextRotationTime) / 1000,
      );
    } else {
      this.options.metrics.nextRotation.remove({ namespace, policy });
    }
  }
}
