/**
 * Running the real operator in tests: install the generated CRD, start `ticket-key-operator
 * controller` as a child process (its JSON log lines are kept for the key-leak scan), create
 * and read policies.
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { operatorArgs } from "./command.ts";
import { spawnBound } from "../spawn.ts";
import * as k8s from "@kubernetes/client-node";
import { policyCrd } from "../../src/api/crd.ts";
import { group, plural, version } from "../../src/api/names.ts";
import type { PolicySpecInput, PolicyStatus } from "../../src/api/policy.ts";
import { waitUntil } from "../cluster/kube.ts";

/**
 * The client serializes a CRD through its model, which knows the `x-kubernetes-*` schema keywords
 * only by their TypeScript names (`x_kubernetes_validations`): given the JSON names it would drop
 * the CEL rules and list types silently.
 */
function withModelNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withModelNames);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k.startsWith("x-kubernetes-") ? k.replaceAll("-", "_") : k,
      k === "default" || k === "enum" ? v : withModelNames(v),
    ]),
  );
}

export async function installCrd(kc: k8s.KubeConfig): Promise<void> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  await objects.patch(
    withModelNames(policyCrd()) as k8s.KubernetesObject,
    undefined,
    undefined,
    "tko-tests",
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await waitUntil("the CRD to be established", async () => {
    const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${group}` });
    return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
  });
}

export interface OperatorProcess {
  child: ChildProcess;
  /** every line the process wrote to stdout and stderr */
  lines: string[];
  identity?: string;
  stop(): Promise<void>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/** `ticket-key-operator <args>`, from the sources or from `bin` (see operator-command.ts). */
export function startOperator(args: string[], env: NodeJS.ProcessEnv = {}, bin?: string): OperatorProcess {
  const child = spawnBound(process.execPath, operatorArgs(args, bin), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      if (process.env["TKO_TEST_VERBOSE"]) console.log(`  [operator ${child.pid ?? "?"}] ${line}`);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return { child, lines, exited, stop: () => signal("SIGTERM"), kill: () => signal("SIGKILL") };
}

/** A controller for one namespace, on free ports, without leader election unless asked. */
export function startController(
  namespace: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
  bin?: string,
): OperatorProcess {
  return startOperator(
    [
      "controller",
      `--namespaces=${namespace}`,
      "--metrics-address=127.0.0.1:0",
      "--health-address=127.0.0.1:0",
      ...(extra.some((a) => a.startsWith("--leader-elect")) ? [] : ["--leader-elect=false"]),
      ...extra,
    ],
    env,
    bin,
  );
}

export interface PolicyObject {
  metadata: k8s.V1ObjectMeta;
  spec: PolicySpecInput;
  status?: PolicyStatus;
}

export function policies(kc: k8s.KubeConfig) {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const base = { group, version, plural };
  return {
    create: (namespace: string, name: string, spec: PolicySpecInput, annotations?: Record<string, string>) =>
      api.createNamespacedCustomObject({
        ...base,
        namespace,
        body: {
          apiVersion: `${group}/${version}`,
          kind: "TicketKeyPolicy",
          metadata: { name, namespace, annotations },
          spec,
        },
      }) as Promise<PolicyObject>,
    get: (namespace: string, name: string) =>
      api.getNamespacedCustomObject({ ...base, namespace, name }) as Promise<PolicyObject>,
    list: async (namespace: string) =>
      ((await api.listNamespacedCustomObject({ ...base, namespace })) as { items: PolicyObject[] }).items,
    patch: (namespace: string, name: string, patch: object) =>
      api.patchNamespacedCustomObject(
        { ...base, namespace, name, body: patch },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      ) as Promise<PolicyObject>,
    delete: (namespace: string, name: string) =>
      api.deleteNamespacedCustomObject({ ...base, namespace, name }),
  };
}

export function readyCondition(policy: PolicyObject) {
  return policy.status?.conditions?.find((c) => c.type === "Ready");
}

export async function waitForCondition(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  want: { status: string; reason?: string },
  timeoutMs = 30_000,
): Promise<PolicyObject> {
  const api = policies(kc);
  return waitUntil(
    `policy ${namespace}/${name} to be Ready=${want.status}${want.reason ? ` (${want.reason})` : ""}`,
    async () => {
      const p = await api.get(namespace, name);
      const c = readyCondition(p);
      return c?.status === want.status && (want.reason === undefined || c.reason === want.reason)
        ? p
        : undefined;
    },
    timeoutMs,
    200,
  );
}

export async function eventsFor(
  kc: k8s.KubeConfig,
  namespace: string,
  name?: string,
): Promise<k8s.CoreV1Event[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedEvent({ namespace });
  return list.items.filter((e) => name === undefined || e.involvedObject.name === name);
}

/** host:port of a controller's /metrics, from its "serving /healthz, /readyz and /metrics" log line. */
export function metricsAddress(operator: OperatorProcess): string {
  for (const line of operator.lines) {
    try {
      const entry = JSON.parse(line) as { msg?: string; metrics?: string };
      if (entry.msg === "serving /healthz, /readyz and /metrics" && entry.metrics !== undefined)
        return entry.metrics;
    } catch {
      // not a JSON line
    }
  }
  throw new Error("the controller has not logged its metrics address");
}
