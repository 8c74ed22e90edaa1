/**
 * The Secret to write: the intent rendered from the scheduled ring, written only when the live
 * Secret lacks some of it. Renderings edited by hand are restored from ring.json (SecretRestored).
 */
import type { V1Secret } from "@kubernetes/client-node";
import {
  managedByLabel,
  managedByValue,
  policyLabel,
  ringDataKey,
  secretType,
  supersededByAnnotation,
  templateKeysAnnotation,
} from "../../api/names.ts";
import type { PolicyObject } from "../../api/policy.ts";
import { renderSecretData } from "../../core/renderings.ts";
import type { Ring } from "../../core/ring.ts";
import { ownerReference } from "../ownership.ts";
import type { Tokens } from "./read.ts";
import type { Scheduled } from "./schedule.ts";
import type { Context, PolicyEvent, Target } from "./types.ts";

export interface Write {
  /** The intent to apply; undefined: the live Secret already carries it. */
  secret: V1Secret | undefined;
  /** SecretRestored, when the write undoes an edit by hand. */
  event: PolicyEvent | undefined;
}

/** The template's label and annotation keys, as the Secret records them. */
export function templateKeys(
  template: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
): string {
  const keys = (map: Record<string, string> | undefined): string =>
    Object.keys(map ?? {})
      .sort()
      .join(",");
  return `labels=${keys(template?.labels)};annotations=${keys(template?.annotations)}`;
}

function desiredSecret({ policy, now }: Context, target: Target, ring: Ring, tokens: Tokens): V1Secret {
  const { spec, secretName } = target;
  const data = renderSecretData(ring, { formats: spec.formats, cipher: spec.cipher }, now);
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: secretType,
    metadata: {
      name: secretName,
      namespace: policy.metadata.namespace,
      labels: {
        ...spec.secretTemplate?.labels,
        [managedByLabel]: managedByValue,
        [policyLabel]: policy.metadata.name,
      },
      annotations: {
        ...spec.secretTemplate?.annotations,
        ...tokens.handled,
        [templateKeysAnnotation]: templateKeys(spec.secretTemplate),
      },
      ownerReferences: [ownerReference(policy)],
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString("base64")])),
  };
}

function sameStrings(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  return ea.length === Object.keys(b ?? {}).length && ea.every(([k, v]) => b?.[k] === v);
}

const includes = (
  have: Record<string, string> | undefined,
  want: Record<string, string> | undefined,
): boolean => Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);

/** True when the live Secret already carries everything the desired one says. */
function upToDate(live: V1Secret, desired: V1Secret): boolean {
  const lm = live.metadata ?? {};
  const dm = desired.metadata ?? {};
  return (
    sameStrings(live.data, desired.data) &&
    includes(lm.labels, dm.labels) &&
    includes(lm.annotations, dm.annotations) &&
    live.type === desired.type
  );
}

/**
 * The Secret a policy used before its spec.secretName changed, once the new one is written: no
 * data left (server-side apply drops every key the operator wrote), and an annotation naming
 * the Secret that holds the keys now. It stays owned by the policy (deleted with it).
 */
export function supersededSecret(policy: PolicyObject, oldName: string, newName: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: secretType,
    metadata: {
      name: oldName,
      namespace: policy.metadata.namespace,
      labels: { [managedByLabel]: managedByValue, [policyLabel]: policy.metadata.name },
      annotations: { [supersededByAnnotation]: newName },
      ownerReferences: [ownerReference(policy)],
    },
    data: {},
  };
}

export function planWrite(ctx: Context, target: Target, scheduled: Scheduled, tokens: Tokens): Write {
  const desired = desiredSecret(ctx, target, scheduled.next.ring, tokens);
  const live = ctx.secret;
  if (live === undefined) return { secret: desired, event: undefined };
  if (upToDate(live, desired)) return { secret: undefined, event: undefined };
  // The ring did not change (so it was read from this Secret), yet the data differs: edited by hand.
  const drifted = scheduled.next.change === "none" && !sameStrings(live.data, desired.data);
  return {
    secret: desired,
    event: drifted
      ? {
          type: "Warning",
          reason: "SecretRestored",
          message: `Secret ${target.secretName} was modified outside the operator: restored its renderings from ${ringDataKey}.`,
        }
      : undefined,
  };
}
