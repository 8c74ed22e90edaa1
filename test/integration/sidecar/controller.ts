/**
 * The real controller for the sidecar tests, on the cluster named by KUBECONFIG (the local control
 * plane of test/run-integration.ts): a namespace, `ticket-key-operator controller` for it, a
 * policy rotating every 10 s, a record of every version of its Secret (the key book the tests
 * check tickets against), and ServiceAccounts holding only the minimal Role (minimalRole of the
 * library) for the sidecars' API source.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { Key } from "../../../src/core/index.ts";
import { adminConfig, tempNamespace } from "../../../harness/cluster/kube.ts";
import {
  installCrd,
  policies,
  startController,
  waitForCondition,
} from "../../../harness/operator/operator.ts";
import { recordSecret } from "../../../harness/operator/secret-history.ts";
import { minimalRoleKubeconfig } from "../../../harness/operator/service-account.ts";
import type { KeyBook } from "../../../harness/keys.ts";

export interface ActiveKeyWatch {
  /** status.activeKey, polled */
  samples: { at: number; activeKey: string }[];
  /** how many times status.activeKey changed */
  rotations(): number;
  /** when it last changed */
  lastChange(): number;
  stop(): void;
}

export interface ControllerScenario {
  namespace: string;
  policyName: string;
  secretName: string;
  /** A kubeconfig file for a new ServiceAccount bound to the minimal Role on the Secret. */
  serviceAccount(name: string): Promise<string>;
  watchActiveKey(): ActiveKeyWatch;
  /** every key the Secret has held, with its latest instants */
  keys(): KeyBook;
  stop(): Promise<void>;
}

export async function controllerScenario(
  prefix: string,
  spec: { rotationInterval: string; retiredKeys: number } = { rotationInterval: "10s", retiredKeys: 1 },
): Promise<ControllerScenario> {
  const kc = adminConfig();
  await installCrd(kc);
  const ns = await tempNamespace(kc, prefix);
  const controller = startController(ns.name);
  const policyName = "web";
  const secretName = "web-keys";
  const dir = await mkdtemp(join(tmpdir(), "tko-sa-"));
  const api = policies(kc);
  await api.create(ns.name, policyName, { secretName, ...spec });
  await waitForCondition(kc, ns.name, policyName, { status: "True" });
  const history = await recordSecret(kc, ns.name, secretName);
  return {
    namespace: ns.name,
    policyName,
    secretName,
    serviceAccount: (account) => minimalRoleKubeconfig(kc, { namespace: ns.name, secretName, account, dir }),
    watchActiveKey() {
      const samples: { at: number; activeKey: string }[] = [];
      let changes = 0;
      let changedAt = Date.now();
      const poll = setInterval(() => {
        void api.get(ns.name, policyName).then(
          (p) => {
            const activeKey = p.status?.activeKey;
            if (activeKey === undefined) return;
            const last = samples.at(-1);
            if (last !== undefined && last.activeKey !== activeKey) {
              changes++;
              changedAt = Date.now();
            }
            samples.push({ at: Date.now(), activeKey });
          },
          () => undefined,
        );
      }, 250);
      return {
        samples,
        rotations: () => changes,
        lastChange: () => changedAt,
        stop: () => clearInterval(poll),
      };
    },
    keys() {
      const book = new Map<string, Key>();
      for (const version of history.versions) {
        for (const key of version.ring?.keys ?? []) book.set(key.name.toString("hex"), key);
      }
      return book;
    },
    async stop() {
      history.stop();
      await controller.stop();
      await ns.remove();
      // The ServiceAccounts' kubeconfigs hold bearer tokens: leave none behind.
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The controller scenario (controllerScenario) of the enclosing suite: started before its tests,
 * stopped after them; returns its getter.
 */
export function controllerScenarioHooks(prefix: string): () => ControllerScenario {
  let scenario: ControllerScenario | undefined;
  before(async () => {
    scenario = await controllerScenario(prefix);
  });
  after(async () => {
    await scenario?.stop();
  });
  return () => {
    if (scenario === undefined) throw new Error(`controller scenario ${prefix} not started`);
    return scenario;
  };
}
