/**
 * A supervised informer: @kubernetes/client-node's ListWatch (which re-lists on 410 Gone and
 * reconnects after its 30 s inactivity timeout, so a stalled watch recovers), restarted with
 * jittered exponential backoff whenever it stops on an error.
 */
import * as k8s from "@kubernetes/client-node";

import { backoffDelay } from "../core/backoff.ts";

export interface InformerOptions<T extends k8s.KubernetesObject> {
  path: string;
  list: k8s.ListPromise<T>;
  labelSelector?: string;
  fieldSelector?: string;
  onChange: (obj: T, verb: "add" | "update" | "delete") => void;
  onError?: (err: unknown, retryInMs: number) => void;
  /** called after every successful (re)connect, e.g. to reset an error gauge */
  onConnect?: () => void;
  /** The longest wait between restarts; default 30 s (and at most 512 s, ten doublings of 500 ms). */
  maxBackoffMs?: number;
}

export interface SupervisedInformer<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Resolves once the first list has been loaded into the cache. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function supervisedInformer<T extends k8s.KubernetesObject>(
  kc: k8s.KubeConfig,
  options: InformerOptions<T>,
): SupervisedInformer<T> {
  const informer = new k8s.ListWatch<T>(
    options.path,
    new k8s.Watch(kc),
    options.list,
    false,
    options.labelSelector,
    options.fieldSelector,
  );
  let stopped = false;
  let failures = 0;
  let errors = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  // ListWatch.start() resolves even when its list failed (it reports through "error"), so an
  // attempt counts as synced only when no error was reported while it ran.
  const attempt = async (): Promise<void> => {
    const before = errors;
    await informer.start();
    if (errors === before) {
      failures = 0;
      markSynced();
    }
  };
  // The cache holds the very objects these callbacks receive: drop managedFields, which no
  // consumer reads and which can be as large as the rest of the object (as client-go's
  // informers are commonly told to).
  const slim = (o: T): T => {
    delete o.metadata?.managedFields;
    return o;
  };
  informer.on("add", (o) => options.onChange(slim(o), "add"));
  informer.on("update", (o) => options.onChange(slim(o), "update"));
  informer.on("delete", (o) => options.onChange(o, "delete"));
  informer.on("connect", () => {
    options.onConnect?.();
  });
  informer.on("error", (err: unknown) => {
    errors++;
    if (stopped) return;
    failures++;
    const retryIn = backoffDelay(failures, {
      baseMs: 500,
      capMs: Math.min(options.maxBackoffMs ?? 30_000, 500 * 2 ** 10),
    });
    options.onError?.(err, retryIn);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopped) return;
      attempt().catch(() => undefined); // failures are reported through the error callback
    }, retryIn);
  });
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    start: async () => {
      stopped = false;
      await attempt();
      await synced;
    },
    stop: async () => {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}
