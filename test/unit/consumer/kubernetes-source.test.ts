/**
 * The pure parts of the Kubernetes source: the Role it needs and the error when it is missing.
 * (Against a real kube-apiserver: the integration tests.)
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";

import { ApiException, KubeConfig } from "@kubernetes/client-node";

import {
  accessDenied,
  AccessDeniedError,
  minimalRole,
  minimalRoleBinding,
} from "../../../src/consumer/sources/kubernetes-access.ts";
import { describeError } from "../../../src/observability/log.ts";
import { kubernetesSource } from "../../../src/consumer/sources/kubernetes.ts";
import { capturingLogger } from "./support.ts";

const target = { namespace: "shop", secretName: "web-keys", verb: "list" };

/** What the client's list call throws for a 403: the Status body as text. */
function forbiddenList(user: string): ApiException<unknown> {
  const status = {
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    message: `secrets is forbidden: User "${user}" cannot list resource "secrets" in API group "" in the namespace "shop"`,
    reason: "Forbidden",
    details: { kind: "secrets" },
    code: 403,
  };
  return new ApiException(403, "Unknown API Status Code!", JSON.stringify(status), {});
}

describe("minimalRole", () => {
  it("grants get, list and watch on the one Secret", () => {
    assert.deepEqual(minimalRole("shop", "web-keys"), {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "web-keys-reader", namespace: "shop" },
      rules: [
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: ["web-keys"],
          verbs: ["get", "list", "watch"],
        },
      ],
    });
    const binding = minimalRoleBinding("shop", "web-keys", "web");
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "web-keys-reader",
    });
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "web", namespace: "shop" }]);
  });
});

describe("accessDenied", () => {
  it("names the user, the verb and the missing permission for a refused list", () => {
    const error = accessDenied(forbiddenList("system:serviceaccount:shop:web"), target);
    assert.ok(error instanceof AccessDeniedError);
    assert.equal(
      error.message,
      'cannot list secrets "web-keys" in namespace "shop" as system:serviceaccount:shop:web (HTTP 403): ' +
        'grant get, list and watch on secrets with resourceNames ["web-keys"]',
    );
    assert.equal(error.user, "system:serviceaccount:shop:web");
    assert.equal(error.status, 403);
    assert.equal(error.verb, "list");
  });

  it("handles a parsed Status body and a refused watch (no body)", () => {
    const parsed = new ApiException(
      403,
      "Forbidden",
      { message: 'User "alice" cannot watch resource "secrets"' },
      {},
    );
    assert.match(
      accessDenied(parsed, target)?.message ?? "",
      /^cannot watch secrets "web-keys" .* as alice \(HTTP 403\)/,
    );
    const watch = Object.assign(new Error("Forbidden"), { statusCode: 403 });
    assert.equal(
      accessDenied(watch, { ...target, verb: "watch" })?.message,
      'cannot watch secrets "web-keys" in namespace "shop" (HTTP 403): grant get, list and watch on secrets with resourceNames ["web-keys"]',
    );
  });

  it("says the credentials were refused for a 401", () => {
    const error = accessDenied(new ApiException(401, "Unauthorized", undefined, {}), target);
    assert.match(
      error?.message ?? "",
      /^cannot list secrets "web-keys" in namespace "shop" \(HTTP 401\): the API server did not accept the credentials/,
    );
  });

  it("ignores other errors", () => {
    assert.equal(accessDenied(new ApiException(500, "Internal", "{}", {}), target), undefined);
    assert.equal(accessDenied(new Error("fetch failed"), target), undefined);
    assert.equal(accessDenied(undefined, target), undefined);
  });
});

describe("describeError", () => {
  it("keeps one line: the status and the API's message, or the network error and its cause", () => {
    const status = JSON.stringify({
      kind: "Status",
      message: "etcdserver: request timed out",
      reason: "InternalError",
    });
    assert.equal(
      describeError(new ApiException(500, "Unknown API Status Code!", status, { a: "b" })),
      "HTTP 500 InternalError: etcdserver: request timed out",
    );
    assert.equal(describeError(new ApiException(502, "Bad Gateway", undefined, {})), "HTTP 502: Bad Gateway");
    // An API that is not served answers in plain text (a CRD not installed).
    assert.equal(
      describeError(new ApiException(404, "Unknown API Status Code!", "404 page not found\n", {})),
      "HTTP 404: 404 page not found",
    );
    // Not an API error: a numeric code is not an HTTP status.
    assert.equal(
      describeError(Object.assign(new Error("command failed"), { code: 1 })),
      "command failed (code 1)",
    );
    const network = new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:1") });
    assert.equal(describeError(network), "fetch failed (connect ECONNREFUSED 127.0.0.1:1)");
  });
});

describe("kubernetesSource", () => {
  it("keeps retrying an unreachable API, reporting each failure, until stopped", async () => {
    const closed = net.createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromClusterAndUser(
      { name: "gone", server: `https://127.0.0.1:${port}`, skipTLSVerify: true },
      { name: "nobody", token: "not-a-real-token" },
    );
    const { log, lines } = capturingLogger();
    const source = kubernetesSource({
      kubeConfig,
      namespace: "shop",
      name: "web-keys",
      log,
      maxBackoffMs: 200,
    });
    const errors: Error[] = [];
    source.on("error", (error) => errors.push(error));
    const started = source.start();
    const outcome = started.then(
      () => "resolved",
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    await once(source, "error");
    await once(source, "error");
    assert.match(errors[0]?.message ?? "", /^reading Secret shop\/web-keys failed: fetch failed/);
    await source.stop();
    assert.match(await outcome, /Secret shop\/web-keys: stopped before the first ring arrived/);
    assert.equal(lines.filter((line) => line.includes("ticket key source failed")).length, 1, "logged once");
    assert.ok(!lines.join("").includes("not-a-real-token"));
  });
});
