/** Which Secrets belong to which policy: an ownerReference (controller: true) plus our label. */
import type { V1OwnerReference, V1Secret } from "@kubernetes/client-node";
import { apiVersion, kind, managedByLabel, managedByValue } from "../api/names.ts";
import type { PolicyObject } from "../api/policy.ts";

export function ownerReference(policy: PolicyObject): V1OwnerReference {
  return {
    apiVersion,
    kind,
    name: policy.metadata.name,
    uid: policy.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** True only for a Secret this operator made for this very policy (same uid). */
export function ownedBy(secret: V1Secret, policy: PolicyObject): boolean {
  const meta = secret.metadata;
  if (meta?.labels?.[managedByLabel] !== managedByValue) return false;
  return (meta.ownerReferences ?? []).some(
    (o) => o.controller === true && o.uid === policy.metadata.uid && o.kind === kind,
  );
}
