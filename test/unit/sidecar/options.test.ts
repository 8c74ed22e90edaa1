/** The flags of `ticket-key-operator sidecar`, their environment fallbacks and their errors. */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { parseSidecarFlags, sidecarUsage, type SidecarConfig } from "../../../src/sidecar/options.ts";

function config(argv: string[]): SidecarConfig {
  const parsed = parseSidecarFlags(argv);
  assert.ok(!parsed.help);
  return parsed.config;
}

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) Reflect.deleteProperty(process.env, key);
  Object.assign(process.env, saved);
});

describe("sidecar flags", () => {
  it("nginx from a mounted Secret, with the defaults", () => {
    const c = config(["--directory=/keys", "--server=nginx", "--out=/run/ticket-keys"]);
    assert.deepEqual(c.source, { directory: "/keys" });
    assert.equal(c.server, "nginx");
    assert.equal(c.cipher, "AES256");
    assert.equal(c.fileMode, 0o600);
    assert.equal(c.slots, undefined);
    assert.deepEqual(c.nginx, { processName: "nginx" });
    assert.equal(c.reloadTimeoutMs, 10_000);
    assert.equal(c.metricsAddress, ":9402");
    assert.equal(c.healthAddress, ":9403");
    assert.equal(c.exec, undefined);
  });

  it("the API source: NS/NAME, or NAME (in the pod's namespace, found at start)", () => {
    assert.deepEqual(config(["--secret=shop/web-keys", "--server=envoy", "--out=/o"]).source, {
      secret: { namespace: "shop", name: "web-keys" },
    });
    assert.deepEqual(config(["--secret=web-keys", "--server=envoy", "--out=/o", "--kubeconfig=/k"]).source, {
      secret: { namespace: undefined, name: "web-keys" },
      kubeconfig: "/k",
    });
  });

  it("HAProxy, exec, durations, file mode", () => {
    const c = config([
      "--directory=/keys",
      "--server=haproxy",
      "--out=/o",
      "--haproxy-socket=/run/haproxy/admin.sock",
      "--haproxy-keys-ref=/o/haproxy.keys",
      "--cipher=AES128",
      "--exec=kill -USR2 1",
      "--exec-timeout=5s",
      "--max-backoff=1m",
      "--file-mode=0640",
      "--slots=4",
    ]);
    assert.deepEqual(c.haproxy, { socket: "/run/haproxy/admin.sock", ref: "/o/haproxy.keys" });
    assert.deepEqual(c.exec, { command: "kill -USR2 1", timeoutMs: 5000 });
    assert.equal(c.maxBackoffMs, 60_000);
    assert.equal(c.fileMode, 0o640);
    assert.equal(c.slots, 4);
    assert.equal(c.cipher, "AES128");
  });

  it("environment fallbacks", () => {
    Object.assign(process.env, {
      TICKET_KEYS_DIRECTORY: "/keys",
      TICKET_KEYS_SERVER: "files",
      TICKET_KEYS_OUT: "/o",
      TICKET_KEYS_FORMATS: "go,ats",
      NGINX_PID_FILE: "/run/nginx.pid",
      LOG_LEVEL: "debug",
    });
    const c = config([]);
    assert.deepEqual(c.formats, ["go", "ats"]);
    assert.deepEqual(c.nginx, { pidFile: "/run/nginx.pid" });
    assert.equal(c.logLevel, "debug");
  });

  it("errors name the flag", () => {
    const base = ["--directory=/k", "--out=/o"];
    const cases: [string[], RegExp][] = [
      [["--server=nginx", "--out=/o"], /exactly one source/],
      [["--directory=/k", "--secret=a/b", "--server=nginx", "--out=/o"], /exactly one source/],
      [[...base], /--server is required/],
      [[...base, "--server=apache"], /--server must be one of nginx, haproxy, envoy, files/],
      [["--directory=/k", "--server=nginx"], /--out DIR is required/],
      [[...base, "--server=haproxy"], /--haproxy-socket/],
      [[...base, "--server=haproxy", "--haproxy-socket=nowhere"], /socket path or host:port/],
      [[...base, "--server=nginx", "--cipher=AES192"], /--cipher must be one of AES128, AES256/],
      [[...base, "--server=nginx", "--file-mode=0644"], /--file-mode must be 0600 or 0640/],
      [[...base, "--server=nginx", "--slots=0"], /--slots/],
      [[...base, "--server=files", "--formats=nginx,pem"], /--formats must be one of/],
      [[...base, "--server=nginx", "--reload-timeout=soon"], /invalid duration/],
      [[...base, "--server=nginx", "--nginx-pid-file=/p", "--nginx-process-name=nginx"], /not both/],
      [["--secret=a/b/c", "--server=nginx", "--out=/o"], /--secret must be/],
      [["--secret=/b", "--server=nginx", "--out=/o"], /--secret must be/],
      [[...base, "--server=nginx", "--unknown"], /Unknown option/],
    ];
    for (const [argv, message] of cases)
      assert.throws(() => parseSidecarFlags(argv), message, argv.join(" "));
  });

  it("--help lists every flag", () => {
    assert.deepEqual(parseSidecarFlags(["--help"]), { help: true });
    for (const flag of [
      "--secret",
      "--directory",
      "--kubeconfig",
      "--server",
      "--out",
      "--cipher",
      "--slots",
      "--formats",
      "--file-mode",
      "--nginx-pid-file",
      "--nginx-process-name",
      "--reload-timeout",
      "--haproxy-socket",
      "--haproxy-keys-ref",
      "--exec",
      "--exec-timeout",
      "--max-backoff",
      "--resync-interval",
      "--startup-grace",
      "--metrics-address",
      "--health-address",
      "--log-level",
    ]) {
      assert.ok(sidecarUsage.includes(flag), flag);
    }
  });
});
