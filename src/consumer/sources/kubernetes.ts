/**
 * The Kubernetes API source: watches ONE Secret by name (list + watch with the field selector
 * metadata.name=<name>, which RBAC authorizes against resourceNames, so the Role of
 * minimalRole() is enough). Reconnects with jittered backoff (supervisedInformer) and keeps the
 * last good ring while the API is unreachable. A 401 or 403 before the first sync fails start()
 * with an AccessDeniedError naming the missing permission.
 *
 * The API client is loaded on start(), so programs that only use a directory source do not
 * pay for it.
 */
import type { KubeConfig, V1Secret } from "@kubernetes/client-node";

import {
  managedByLabel,
  managedByValue,
  policyLabel,
  ringDataKey,
  secretType,
  supersededByAnnotation,
} from "../../api/names.ts";
import type { SupervisedInformer } from "../../kube/informer.ts";
import { BaseRingSource, type RingSourceOptions } from "../ring-source.ts";
import { describeError } from "../../observability/log.ts";
import { accessDenied } from "./kubernetes-access.ts";

export interface KubernetesSourceOptions extends RingSourceOptions {
  /** The Secret's namespace. */
  namespace: string;
  /** The Secret's name (the policy's spec.secretName). */
  name: string;
  /** A KubeConfig, or the path of a kubeconfig file; default $KUBECONFIG, ~/.kube/config or in-cluster. */
  kubeConfig?: KubeConfig | string;
  /** The data key holding the ring; default "ring.json". */
  dataKey?: string;
  /** The longest wait between reconnections; default 30 s. */
  maxBackoffMs?: number;
}

export class KubernetesRingSource extends BaseRingSource {
  readonly namespace: string;
  readonly name: string;
  readonly #options: KubernetesSourceOptions;
  #informer: SupervisedInformer<V1Secret> | undefined;
  #synced = false;
  #failStart: ((error: Error) => void) | undefined;
  #closed = false;

  constructor(options: KubernetesSourceOptions) {
    super(`Secret ${options.namespace}/${options.name}`, options);
    if (options.namespace === "" || options.name === "") {
      throw new TypeError("kubernetesSource needs the namespace and the name of the Secret");
    }
    this.namespace = options.namespace;
    this.name = options.name;
    this.#options = options;
  }

  protected override async open(): Promise<void> {
    this.#closed = false;
    const [{ CoreV1Api }, { supervisedInformer }, { loadKubeConfig }] = await Promise.all([
      import("@kubernetes/client-node"),
      import("../../kube/informer.ts"),
      import("../../kube/config.ts"),
    ]);
    if (this.#wasClosed()) return; // stopped while loading the client
    const configured = this.#options.kubeConfig;
    const kc =
      configured === undefined || typeof configured === "string" ? loadKubeConfig(configured) : configured;
    const core = kc.makeApiClient(CoreV1Api);
    const { namespace, name } = this;
    const fieldSelector = `metadata.name=${name}`;
    const informer = supervisedInformer<V1Secret>(kc, {
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
      fieldSelector,
      list: () => core.listNamespacedSecret({ namespace, fieldSelector }),
      onChange: (secret, verb) => {
        this.#onSecret(secret, verb);
      },
      onError: (error, retryInMs) => {
        this.#onError(error, retryInMs);
      },
      ...(this.#options.maxBackoffMs === undefined ? {} : { maxBackoffMs: this.#options.maxBackoffMs }),
    });
    this.#informer = informer;
    this.#synced = false;
    await new Promise<void>((resolve, reject) => {
      this.#failStart = reject;
      informer.start().then(resolve, reject);
    });
    this.#failStart = undefined;
    this.#synced = true;
    this.recovered();
    if (informer.get(name, namespace) === undefined) {
      this.log.info("the Secret does not exist yet; waiting for it");
    }
  }

  protected override async close(): Promise<void> {
    this.#closed = true;
    const informer = this.#informer;
    this.#informer = undefined;
    this.#synced = false;
    this.#failStart = undefined;
    await informer?.stop();
  }

  #wasClosed(): boolean {
    return this.#closed;
  }

  #onSecret(secret: V1Secret, verb: "add" | "update" | "delete"): void {
    if (secret.metadata?.name !== this.name) return;
    if (this.#synced) this.recovered();
    if (verb === "delete") {
      this.report(new Error(`${this.description} was deleted`));
      return;
    }
    const foreign = notTheOperators(secret);
    if (foreign !== undefined) {
      this.reject(`${this.description} is not a key ring Secret of the operator: ${foreign}`);
      return;
    }
    const movedTo = secret.metadata.annotations?.[supersededByAnnotation];
    if (movedTo !== undefined) {
      this.report(
        new Error(
          `${this.description} no longer holds keys: its policy writes Secret ${movedTo} now (point this consumer at it); keeping the last good ring until its keys expire`,
        ),
      );
      return;
    }
    if (Object.keys(secret.data ?? {}).length === 0) {
      // The operator creates the Secret empty, then applies its data: not written yet.
      this.log.debug("the Secret has no data yet; waiting for it");
      return;
    }
    const dataKey = this.#options.dataKey ?? ringDataKey;
    const encoded = secret.data?.[dataKey];
    if (encoded === undefined) {
      this.reject(`${this.description} has no ${dataKey}`);
      return;
    }
    this.offer(Buffer.from(encoded, "base64"));
  }

  #onError(error: unknown, retryInMs: number): void {
    // A refused list throws an ApiException (`code`, a Status body); a refused watch an Error
    // with `statusCode` and no body.
    const fromWatch = typeof (error as { statusCode?: unknown } | null)?.statusCode === "number";
    const target = { namespace: this.namespace, secretName: this.name, verb: fromWatch ? "watch" : "list" };
    const denied = accessDenied(error, target);
    if (denied !== undefined && this.#failStart !== undefined) {
      this.log.error({ err: denied.message }, "no access to the ticket key Secret");
      this.#failStart(denied);
      this.#failStart = undefined;
      return;
    }
    this.report(denied ?? new Error(`reading ${this.description} failed: ${describeError(error)}`), {
      retryInMs,
    });
  }
}

/**
 * Why a Secret is not one the operator wrote (docs/design.md#secret-metadata): its type and its
 * labels. Undefined for the operator's own.
 */
export function notTheOperators(secret: V1Secret): string | undefined {
  if (secret.type !== secretType) return `type ${JSON.stringify(secret.type ?? "Opaque")}, not ${secretType}`;
  const labels = secret.metadata?.labels ?? {};
  if (labels[managedByLabel] !== managedByValue) return `no label ${managedByLabel}=${managedByValue}`;
  if ((labels[policyLabel] ?? "") === "") return `no label ${policyLabel}`;
  return undefined;
}

/** A source that watches one Secret through the Kubernetes API (needs only minimalRole()). */
export function kubernetesSource(options: KubernetesSourceOptions): KubernetesRingSource {
  return new KubernetesRingSource(options);
}
