/**
 * What the Kubernetes source needs from RBAC, and the error it gives when it is missing. Pure:
 * no API client is loaded here (docs, tests and the error path use it without a cluster).
 */
import type { V1Role, V1RoleBinding } from "@kubernetes/client-node";
import { apiFailure } from "../../kube/errors.ts";

/** The verbs the source uses on its one Secret. */
export const requiredVerbs = ["get", "list", "watch"] as const;

/**
 * The smallest Role that lets a consumer read one Secret: get, list and watch on `secretName`
 * only. A list or watch with the field selector `metadata.name=<secretName>` is authorized
 * against `resourceNames`, so the consumer never needs access to the other Secrets.
 */
export function minimalRole(
  namespace: string,
  secretName: string,
  roleName = `${secretName}-reader`,
): V1Role {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: roleName, namespace },
    rules: [
      { apiGroups: [""], resources: ["secrets"], resourceNames: [secretName], verbs: [...requiredVerbs] },
    ],
  };
}

/** Binds minimalRole(namespace, secretName, roleName) to a ServiceAccount of the same namespace. */
export function minimalRoleBinding(
  namespace: string,
  secretName: string,
  serviceAccount: string,
  roleName = `${secretName}-reader`,
): V1RoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: roleName, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
    subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
  };
}

/** The API refused the source's credentials (401) or their permissions (403). */
export class AccessDeniedError extends Error {
  override readonly name = "AccessDeniedError";
  readonly status: number;
  /** The verb that failed: "list", "watch" or "get". */
  readonly verb: string;
  readonly namespace: string;
  readonly secretName: string;
  /** The identity the API server saw, when its message names it. */
  readonly user: string | undefined;

  constructor(details: {
    status: number;
    verb: string;
    namespace: string;
    secretName: string;
    user: string | undefined;
  }) {
    const { status, verb, namespace, secretName, user } = details;
    const who = user === undefined ? "" : ` as ${user}`;
    const fix =
      status === 401
        ? "the API server did not accept the credentials (check the service account token or the kubeconfig)"
        : `grant ${requiredVerbs.slice(0, -1).join(", ")} and ${requiredVerbs.at(-1) ?? ""} on secrets with resourceNames ${JSON.stringify([secretName])}`;
    super(
      `cannot ${verb} secrets ${JSON.stringify(secretName)} in namespace ${JSON.stringify(namespace)}${who} (HTTP ${status}): ${fix}`,
    );
    this.status = status;
    this.verb = verb;
    this.namespace = namespace;
    this.secretName = secretName;
    this.user = user;
  }
}

/**
 * The AccessDeniedError for a 401 or 403 while reading the Secret, undefined for other errors.
 * `verb` is what the source was doing when the API's message does not say (a list answers
 * with a Status naming the user and the verb; a refused watch only with its status line).
 */
export function accessDenied(
  error: unknown,
  target: { namespace: string; secretName: string; verb: string },
): AccessDeniedError | undefined {
  const failure = apiFailure(error);
  if (failure.status !== 401 && failure.status !== 403) return undefined;
  const message = failure.message ?? "";
  return new AccessDeniedError({
    status: failure.status,
    verb: /\bcannot (\w+) resource\b/.exec(message)?.[1] ?? target.verb,
    namespace: target.namespace,
    secretName: target.secretName,
    user: /\bUser "([^"]+)"/.exec(message)?.[1],
  });
}
