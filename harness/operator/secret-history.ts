/**
 * Records every version of one Secret as a watch delivers it, with the instant it arrived and
 * its parsed ring, so tests can check the schedule's invariants on the real Secret.
 */
import * as k8s from "@kubernetes/client-node";
import { ringDataKey } from "../../src/api/names.ts";
import { parseRing, type Ring } from "../../src/core/ring.ts";

export interface SecretVersion {
  seenAt: number;
  resourceVersion: string;
  ring: Ring | undefined;
  data: Record<string, Buffer>;
  deleted: boolean;
}

export interface SecretHistory {
  versions: SecretVersion[];
  stop(): void;
  /** every secret byte string seen (seeds and renderings), for the leak scan */
  secrets(): Buffer[];
}

export async function recordSecret(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
): Promise<SecretHistory> {
  const versions: SecretVersion[] = [];
  let controller: AbortController | undefined;
  let stopped = false;
  let resourceVersion: string | undefined;
  const connect = async (): Promise<void> => {
    if (stopped) return;
    controller = await new k8s.Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/secrets`,
      { fieldSelector: `metadata.name=${name}`, ...(resourceVersion ? { resourceVersion } : {}) },
      (phase, obj: k8s.V1Secret) => {
        resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
        const data = Object.fromEntries(
          Object.entries(obj.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")]),
        );
        let ring: Ring | undefined;
        try {
          ring = data[ringDataKey] ? parseRing(data[ringDataKey]) : undefined;
        } catch {
          ring = undefined;
        }
        versions.push({
          seenAt: Date.now(),
          resourceVersion: resourceVersion ?? "",
          ring,
          data,
          deleted: phase === "DELETED",
        });
      },
      () => {
        // Watches end (timeouts, server closes): resume from the last version seen.
        setTimeout(() => void connect().catch(() => undefined), 100);
      },
    );
  };
  await connect();
  return {
    versions,
    stop: () => {
      stopped = true;
      controller?.abort();
    },
    secrets: () =>
      versions.flatMap((v) => [
        ...Object.entries(v.data)
          .filter(([k]) => k !== ringDataKey)
          .map(([, b]) => b),
        ...(v.ring?.keys.map((k) => k.seed) ?? []),
      ]),
  };
}

/** The leak scan of the Secret's bytes (secrets()) is harness/leaks.ts. */
export { findLeaks, leakNeedles } from "../leaks.ts";
