/**
 * The kind suite's workload, as objects: a policy with a short interval; a 3-replica Node app
 * using the library (examples/node-server) and a 3-replica nginx with the
 * `ticket-key-operator sidecar`, each behind a Service; the minimal Role both read the Secret
 * with; the client Job. Pure: run.ts applies them.
 *
 * The two consumer command lines below are the contract with examples/node-server (issue 4)
 * and `ticket-key-operator sidecar` (issue 5); run.ts checks the sidecar's flags against its
 * --help before creating a cluster.
 */
import { stringify } from "yaml";

export const namespace = "tko-e2e";
export const policyName = "e2e";
export const secretName = "e2e-ticket-keys";
export const tlsSecretName = "e2e-tls";
export const serviceAccountName = "tls-app";
export const retiredKeys = 1;
/** retiredKeys + 2 key files, constant once the ring is full */
export const keySlots = retiredKeys + 2;

export interface Images {
  /** the operator image (Dockerfile) */
  operator: string;
  /** the operator image plus examples/node-server and the client (node-server.Dockerfile) */
  app: string;
  nginx: string;
}

/** `node examples/node-server/server.ts`: the library, multi-key (router) mode, API source. */
export const nodeServerCommand = ["node", "/app/examples/node-server/server.ts"];
export const nodeServerEnv = {
  TICKET_KEYS_SECRET: secretName,
  TICKET_KEYS_MODE: "router",
  TLS_CERT_FILE: "/tls/tls.crt",
  TLS_KEY_FILE: "/tls/tls.key",
  PORT: "8443",
};

/** `ticket-key-operator sidecar` for nginx: API source, nginx rendering, SIGHUP via the pid file. */
export const sidecarArgs = [
  "sidecar",
  `--secret=${secretName}`,
  "--server=nginx",
  "--out=/run/ticket-keys",
  "--nginx-pid-file=/run/nginx/nginx.pid",
];
/** The flags above, without values: each must appear in `ticket-key-operator sidecar --help`. */
export const sidecarFlags = sidecarArgs.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]!);

const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};
const podNamespaceEnv = {
  name: "POD_NAMESPACE",
  valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
};

export const policy = {
  apiVersion: "ticketkeys.dev/v1alpha1",
  kind: "TicketKeyPolicy",
  metadata: { name: policyName, namespace },
  spec: { secretName, rotationInterval: "20s", retiredKeys, cipher: "AES256" },
};

const rbac = [
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: serviceAccountName, namespace } },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "read-ticket-keys", namespace },
    rules: [
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [secretName],
        verbs: ["get", "list", "watch"],
      },
    ],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "read-ticket-keys", namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-ticket-keys" },
    subjects: [{ kind: "ServiceAccount", name: serviceAccountName, namespace }],
  },
];

function service(app: string) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: app, namespace },
    spec: { selector: { app }, ports: [{ name: "https", port: 443, targetPort: "https" }] },
  };
}

function deployment(app: string, pod: Record<string, unknown>) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: app, namespace, labels: { app } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: {
          serviceAccountName,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          ...pod,
        },
      },
    },
  };
}

const tlsVolume = { name: "tls", secret: { secretName: tlsSecretName } };

function nodeApp(images: Images) {
  return deployment("node-app", {
    containers: [
      {
        name: "server",
        image: images.app,
        imagePullPolicy: "Never",
        command: nodeServerCommand,
        env: [podNamespaceEnv, ...Object.entries(nodeServerEnv).map(([name, value]) => ({ name, value }))],
        ports: [{ name: "https", containerPort: 8443 }],
        readinessProbe: { tcpSocket: { port: "https" }, periodSeconds: 2 },
        securityContext: { ...restricted, runAsUser: 65532, runAsGroup: 65532 },
        volumeMounts: [{ name: "tls", mountPath: "/tls", readOnly: true }],
      },
    ],
    volumes: [tlsVolume],
  });
}

export const nginxConf = `worker_processes 1;
pid /run/nginx/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server {
    listen 8443 ssl;
    ssl_certificate /tls/tls.crt;
    ssl_certificate_key /tls/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # Tickets only: no per-replica session cache to flatter the numbers.
    ssl_session_cache none;
    ssl_session_tickets on;
    ssl_session_timeout 1h;
    # Slot 0 encrypts; the others only decrypt (pending, then retired).
${Array.from({ length: keySlots }, (_, i) => `    ssl_session_ticket_key /run/ticket-keys/nginx-${i}.key;`).join("\n")}
    location / { return 200 "ok\\n"; }
  }
}
`;

function nginx(images: Images) {
  // nginx-unprivileged runs as uid 101; the sidecar runs as the same uid so that it may signal
  // the nginx master (shared process namespace) and nginx may read the key files.
  const uid = { runAsUser: 101, runAsGroup: 101 };
  return deployment("nginx", {
    shareProcessNamespace: true,
    initContainers: [
      {
        // A native sidecar: started, and its startup probe passed, before nginx starts.
        name: "ticket-keys",
        image: images.operator,
        imagePullPolicy: "Never",
        restartPolicy: "Always",
        args: sidecarArgs,
        env: [podNamespaceEnv],
        startupProbe: {
          exec: { command: ["test", "-s", `/run/ticket-keys/nginx-${keySlots - 1}.key`] },
          periodSeconds: 1,
          failureThreshold: 60,
        },
        securityContext: { ...restricted, ...uid },
        volumeMounts: [
          { name: "ticket-keys", mountPath: "/run/ticket-keys" },
          { name: "nginx-run", mountPath: "/run/nginx" },
        ],
      },
    ],
    containers: [
      {
        name: "nginx",
        image: images.nginx,
        ports: [{ name: "https", containerPort: 8443 }],
        readinessProbe: { tcpSocket: { port: "https" }, periodSeconds: 2 },
        securityContext: { ...restricted, ...uid },
        volumeMounts: [
          { name: "tls", mountPath: "/tls", readOnly: true },
          { name: "ticket-keys", mountPath: "/run/ticket-keys", readOnly: true },
          { name: "nginx-run", mountPath: "/run/nginx" },
          { name: "nginx-conf", mountPath: "/etc/nginx/nginx.conf", subPath: "nginx.conf", readOnly: true },
          { name: "tmp", mountPath: "/tmp" },
        ],
      },
    ],
    volumes: [
      tlsVolume,
      { name: "ticket-keys", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
      { name: "nginx-run", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
      { name: "tmp", emptyDir: {} },
      { name: "nginx-conf", configMap: { name: "nginx-conf" } },
    ],
  });
}

/** Everything but the policy and the TLS Secret (made from a fresh certificate by run.ts). */
export function workload(images: Images): object[] {
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "nginx-conf", namespace },
      data: { "nginx.conf": nginxConf },
    },
    ...rbac,
    nodeApp(images),
    service("node-app"),
    nginx(images),
    service("nginx"),
  ];
}

export const targets = [`node-app.${namespace}.svc:443`, `nginx.${namespace}.svc:443`];

export function clientJob(images: Images, duration: string) {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "resumption-client", namespace },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "client",
              image: images.app,
              imagePullPolicy: "Never",
              command: [
                "node",
                "/app/e2e/client.ts",
                ...targets.map((t) => `--target=${t}`),
                `--duration=${duration}`,
              ],
              securityContext: restricted,
            },
          ],
        },
      },
    },
  };
}

export function toYaml(objects: object[]): string {
  return objects.map((o) => stringify(o)).join("---\n");
}
