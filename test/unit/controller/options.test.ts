/** The flags of `ticket-key-operator controller`, their environment fallbacks and their errors. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  controllerUsage,
  parseControllerFlags,
  type ControllerConfig,
} from "../../../src/controller/options.ts";

function config(argv: string[], env: Record<string, string> = {}): ControllerConfig {
  const parsed = parseControllerFlags(argv, env);
  assert.ok(!parsed.help);
  return parsed.config;
}

const defaults: ControllerConfig = {
  namespaces: [],
  kubeconfig: undefined,
  metricsAddress: ":8080",
  healthAddress: ":8081",
  leaderElection: {
    enabled: true,
    namespace: undefined,
    id: "ticket-key-operator",
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
  },
  workers: 4,
  logLevel: "info",
};

describe("controller flags", () => {
  it("the defaults: all namespaces, leader election on, 4 workers", () => {
    assert.deepEqual(config([]), defaults);
  });

  it("every flag", () => {
    assert.deepEqual(
      config([
        "--namespaces= shop, web ,,",
        "--kubeconfig=/etc/kube/config",
        "--metrics-address=127.0.0.1:9090",
        "--health-address=[::1]:9091",
        "--leader-elect=false",
        "--leader-election-namespace=operators",
        "--leader-election-id=tko",
        "--lease-duration=30s",
        "--renew-deadline=20s",
        "--retry-period=1.5s",
        "--workers=16",
        "--log-level=debug",
      ]),
      {
        namespaces: ["shop", "web"],
        kubeconfig: "/etc/kube/config",
        metricsAddress: "127.0.0.1:9090",
        healthAddress: "[::1]:9091",
        leaderElection: {
          enabled: false,
          namespace: "operators",
          id: "tko",
          leaseDurationMs: 30_000,
          renewDeadlineMs: 20_000,
          retryPeriodMs: 1_500,
        },
        workers: 16,
        logLevel: "debug",
      },
    );
    assert.equal(config(["--leader-elect", "true"]).leaderElection.enabled, true);
  });

  it("environment fallbacks; a flag wins over its variable; an empty variable counts as unset", () => {
    const env = {
      WATCH_NAMESPACES: "a,b",
      METRICS_ADDRESS: ":9000",
      HEALTH_ADDRESS: ":9001",
      LEADER_ELECT: "false",
      LOG_LEVEL: "warn",
    };
    const c = config([], env);
    assert.deepEqual(c.namespaces, ["a", "b"]);
    assert.equal(c.metricsAddress, ":9000");
    assert.equal(c.healthAddress, ":9001");
    assert.equal(c.leaderElection.enabled, false);
    assert.equal(c.logLevel, "warn");
    assert.equal(config(["--log-level=error", "--namespaces=c"], env).logLevel, "error");
    assert.deepEqual(config(["--namespaces=c"], env).namespaces, ["c"]);
    const empty = {
      WATCH_NAMESPACES: "",
      METRICS_ADDRESS: "",
      HEALTH_ADDRESS: "",
      LEADER_ELECT: "",
      LOG_LEVEL: "",
    };
    assert.deepEqual(config([], empty), defaults);
  });

  it("bad values: errors name the flag", () => {
    const cases: [string[], string][] = [
      [["--workers=0"], '--workers must be a positive integer, got "0"'],
      [["--workers=four"], '--workers must be a positive integer, got "four"'],
      [["--workers=2.5"], '--workers must be a positive integer, got "2.5"'],
      [["--leader-elect=yes"], '--leader-elect must be one of true, false, got "yes"'],
      [["--log-level=verbose"], '--log-level must be one of trace, debug, info, warn, error, got "verbose"'],
      [
        ["--lease-duration=soon"],
        '--lease-duration: invalid duration "soon": expected numbers with units h, m or s, e.g. "1h", "90s" or "1h30m"',
      ],
      [["--retry-period=0s"], '--retry-period must be longer than 0s, got "0s"'],
      [
        ["--renew-deadline=20s"],
        "leader election needs --retry-period < --renew-deadline < --lease-duration",
      ],
      [["--retry-period=10s"], "leader election needs --retry-period < --renew-deadline < --lease-duration"],
      [["--leader-election-id="], "--leader-election-id must not be empty"],
      [["--metrics-address=localhost"], "--metrics-address: invalid address localhost: expected host:port"],
      [["--health-address=:99999"], "--health-address: invalid address :99999: expected host:port"],
    ];
    for (const [argv, message] of cases) {
      assert.throws(() => parseControllerFlags(argv, {}), { message }, argv.join(" "));
    }
    assert.throws(() => parseControllerFlags(["--unknown"], {}), /Unknown option '--unknown'/);
    assert.throws(() => parseControllerFlags(["--workers"], {}), /--workers <value>' argument missing/);
  });

  it("--help and -h: no configuration, and the usage lists every flag", () => {
    assert.deepEqual(parseControllerFlags(["--help"], {}), { help: true });
    assert.deepEqual(parseControllerFlags(["-h", "--workers=0"], {}), { help: true });
    for (const flag of [
      "--namespaces",
      "--kubeconfig",
      "--metrics-address",
      "--health-address",
      "--leader-elect",
      "--leader-election-namespace",
      "--leader-election-id",
      "--lease-duration",
      "--renew-deadline",
      "--retry-period",
      "--workers",
      "--log-level",
    ]) {
      assert.match(controllerUsage, new RegExp(`${flag} `), flag);
    }
    for (const variable of [
      "WATCH_NAMESPACES",
      "METRICS_ADDRESS",
      "HEALTH_ADDRESS",
      "LEADER_ELECT",
      "LOG_LEVEL",
    ]) {
      assert.ok(controllerUsage.includes(`[${variable}]`), variable);
    }
  });
});
