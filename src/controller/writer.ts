/**
 * The controller's writes to the API: the Secret (created with a minimal POST so an existing
 * Secret of that name can never be merged into, then server-side applied with a
 * resourceVersion precondition), the policy's status subresource (server-side apply) and
 * Events. Everything is written with the field manager `ticket-key-operator`.
 */
import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import {
  apiVersion,
  fieldManager,
  group,
  kind,
  managedByLabel,
  plural,
  policyLabel,
  version,
} from "../api/names.ts";
import type { PolicyObject, PolicyStatus } from "../api/policy.ts";
import type { PolicyEvent } from "./reconcile.ts";

const apply = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply);

export class Writer {
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly instance: string;

  constructor(kc: k8s.KubeConfig, instance: string) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.instance = instance;
  }

  /** The Secret straight from the API (undefined on 404), for names the informer cannot see. */
  async readSecret(namespace: string, name: string): Promise<k8s.V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  /**
   * Writes the Secret. `liveResourceVersion` is the version the intent was computed from
   * (undefined: it did not exist); the write fails with 409 if the Secret changed since.
   */
  async writeSecret(intent: k8s.V1Secret, liveResourceVersion: string | undefined): Promise<k8s.V1Secret> {
    const meta = intent.metadata ?? {};
    const namespace = meta.namespace ?? "";
    const name = meta.name ?? "";
    let resourceVersion = liveResourceVersion;
    if (resourceVersion === undefined) {
      // POST fails with 409 if a Secret of that name appeared meanwhile: it is never merged into.
      // Only the operator's own labels: what the template adds is owned by the apply below alone,
      // so that removing it from the template removes it from the Secret.
      const labels = meta.labels ?? {};
      const created = await this.core.createNamespacedSecret({
        namespace,
        fieldManager,
        body: {
          metadata: {
            name,
            namespace,
            labels: {
              [managedByLabel]: labels[managedByLabel] ?? "",
              [policyLabel]: labels[policyLabel] ?? "",
            },
            ownerReferences: meta.ownerReferences,
          },
          type: intent.type,
        },
      });
      resourceVersion = created.metadata?.resourceVersion;
    }
    return this.core.patchNamespacedSecret(
      {
        name,
        namespace,
        fieldManager,
        force: true,
        body: { ...intent, metadata: { ...meta, resourceVersion } },
      },
      apply,
    );
  }

  async writeStatus(policy: PolicyObject, status: PolicyStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group,
        version,
        plural,
        namespace: policy.metadata.namespace,
        name: policy.metadata.name,
        fieldManager,
        force: true,
        body: {
          apiVersion,
          kind,
          metadata: { name: policy.metadata.name, namespace: policy.metadata.namespace },
          status,
        },
      },
      apply,
    );
  }

  async recordEvent(policy: PolicyObject, event: PolicyEvent): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: policy.metadata.namespace,
      body: {
        metadata: {
          name: `${policy.metadata.name}.${now.getTime().toString(16)}${randomBytes(3).toString("hex")}`,
          namespace: policy.metadata.namespace,
        },
        involvedObject: {
          apiVersion,
          kind,
          name: policy.metadata.name,
          namespace: policy.metadata.namespace,
          uid: policy.metadata.uid,
          resourceVersion: policy.metadata.resourceVersion,
        },
        type: event.type,
        reason: event.reason,
        message: event.message,
        source: { component: fieldManager },
        reportingComponent: fieldManager,
        reportingInstance: this.instance,
        action: event.reason,
        firstTimestamp: now,
        lastTimestamp: now,
        eventTime: undefined,
        count: 1,
      },
    });
  }
}
