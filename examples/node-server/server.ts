/**
 * An HTTPS service whose replicas share TLS session ticket keys through ticket-key-operator.
 *
 * Environment:
 *   TICKET_KEYS_SECRET   the policy's Secret (read through the Kubernetes API, in POD_NAMESPACE)
 *   TICKET_KEYS_DIR      or: the directory where that Secret is mounted
 *   TICKET_KEYS_MODE     "router" (default: multi-key, tickets of pending and retired keys
 *                        still resume) or "single" (one key, switched at each activation)
 *   TLS_CERT_FILE, TLS_KEY_FILE, PORT (default 8443), METRICS_PORT (default 9090)
 *
 * In your own code import from "ticket-key-operator/consumer"; this example imports the
 * repository's source so it runs from a checkout.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import { hostname } from "node:os";
import { Registry } from "prom-client";
import { createRouter, shareTicketKeys, type SourceChoice } from "../../src/consumer/index.ts";

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const tls = {
  cert: readFileSync(env("TLS_CERT_FILE")),
  key: readFileSync(env("TLS_KEY_FILE")),
  // Every replica must use the same session id context, or OpenSSL will not resume a session
  // another replica issued (Node's default is a hash of the process's command line).
  sessionIdContext: "node-server-example",
};
const source: SourceChoice = process.env["TICKET_KEYS_DIR"]
  ? { directory: env("TICKET_KEYS_DIR") }
  : { kubernetes: { namespace: env("POD_NAMESPACE"), name: env("TICKET_KEYS_SECRET") } };
const registry = new Registry();
const me = hostname();

function app(ticketKeys?: Buffer): Server {
  return createServer({ ...tls, ...(ticketKeys ? { ticketKeys } : {}) }, (req, res) => {
    res.setHeader("content-type", "text/plain");
    res.end(`hello from ${me}\n`);
  });
}

const port = Number(env("PORT", "8443"));
if (env("TICKET_KEYS_MODE", "router") === "router") {
  const router = createRouter({ ...source, createServer: (ticketKeys) => app(ticketKeys), registry });
  await router.ready;
  router.listen(port, () =>
    console.log(`listening on :${port} (router mode, active key ${router.stats().activeKey ?? "?"})`),
  );
  process.once("SIGTERM", () => router.close(() => process.exit(0)));
} else {
  const server = app();
  const consumer = await shareTicketKeys(server, { ...source, registry });
  server.listen(port, () =>
    console.log(`listening on :${port} (single-key mode, active key ${consumer.activeKey ?? "?"})`),
  );
  process.once("SIGTERM", () => server.close(() => process.exit(0)));
}

// Resumed vs full handshakes per key state, the active key id, rejected updates: Prometheus text.
createHttpServer((req, res) => {
  void registry.metrics().then((text) => {
    res.setHeader("content-type", registry.contentType);
    res.end(text);
  });
}).listen(Number(env("METRICS_PORT", "9090")));
