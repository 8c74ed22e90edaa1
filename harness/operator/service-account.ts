/**
 * An application's ServiceAccount as the tests and the demo give it to a child process (a
 * library replica, a sidecar, the controller as the chart runs it): a kubeconfig file holding
 * a short-lived token, and the library's documented minimal Role on one Secret.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { minimalRole, minimalRoleBinding } from "../../src/consumer/index.ts";
import { serviceAccountConfig, waitUntil } from "../cluster/kube.ts";

/**
 * Writes the kubeconfig of the ServiceAccount `namespace/name` (serviceAccountConfig) to
 * `path`, 0600; resolves with the path.
 */
export async function writeServiceAccountKubeconfig(
  admin: k8s.KubeConfig,
  namespace: string,
  name: string,
  path: string,
): Promise<string> {
  const { kubeConfig } = await serviceAccountConfig(admin, namespace, name);
  await writeFile(path, kubeConfig.exportConfig(), { mode: 0o600 });
  return path;
}

/**
 * Grants the ServiceAccount `account` the minimal Role on `secretName` (a Role and a RoleBinding
 * named after the account) and resolves with its kubeconfig file, <dir>/<account>.kubeconfig,
 * once the account can read the Secret (the Role has taken effect).
 */
export async function minimalRoleKubeconfig(
  admin: k8s.KubeConfig,
  options: { namespace: string; secretName: string; account: string; dir: string },
): Promise<string> {
  const { namespace, secretName, account } = options;
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace, body: minimalRole(namespace, secretName, account) });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: minimalRoleBinding(namespace, secretName, account, account),
  });
  const path = join(options.dir, `${account}.kubeconfig`);
  return waitUntil("the Role to take effect", async () => {
    await writeServiceAccountKubeconfig(admin, namespace, account, path);
    const asAccount = new k8s.KubeConfig();
    asAccount.loadFromFile(path);
    await asAccount.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: secretName, namespace });
    return path;
  });
}
