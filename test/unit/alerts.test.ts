/**
 * The chart's PrometheusRule, the way the Prometheus ecosystem tests rules: `helm template` with
 * prometheusRule.enabled=true, its groups written as a rules file, `promtool check rules` and
 * `promtool test rules` with test/alerts/prometheusrule.test.yaml, which must hold a firing and a
 * silent case for every alert the chart renders. promtool is built from the Go module
 * github.com/prometheus/prometheus with the control plane (`npm run cluster -- --build-only`);
 * without it (or helm) the tests are skipped with the reason, except under CI=true, where that
 * fails.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parse, parseAllDocuments, stringify } from "yaml";
import { binaryPath } from "../../harness/cluster/build.ts";
import { chartDir, findHelm, helm, repoRoot } from "../../scripts/render-manifests.ts";

const run = promisify(execFile);
const testFile = `${repoRoot}test/alerts/prometheusrule.test.yaml`;

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface PrometheusRule {
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { groups: { name: string; rules: AlertRule[] }[] };
}
interface PromtoolTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const helmPath = await findHelm();
const promtool = existsSync(binaryPath("promtool")) ? binaryPath("promtool") : undefined;
const missing = [helmPath === undefined ? "helm" : "", promtool === undefined ? "promtool" : ""].filter(
  Boolean,
);
const skip =
  missing.length === 0
    ? false
    : `SKIPPED: no ${missing.join(" or ")} binary: run \`npm run cluster -- --build-only\` (builds them)`;
if (skip !== false) console.log(`# alert rule tests ${skip}`);

async function renderRules(...set: string[]): Promise<PrometheusRule[]> {
  const out = await helm(helmPath!, [
    "template",
    "tko",
    chartDir,
    "--namespace=tko-system",
    ...set.map((s) => `--set=${s}`),
  ]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as PrometheusRule | null)
    .filter((o): o is PrometheusRule => o?.kind === "PrometheusRule");
}

describe("the chart's PrometheusRule", { skip: process.env["CI"] === "true" ? false : skip }, () => {
  let dir: string;
  let rule: PrometheusRule;
  let alerts: AlertRule[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tko-alerts-"));
    const rendered = await renderRules("prometheusRule.enabled=true", "prometheusRule.labels.release=prom");
    assert.equal(rendered.length, 1, "one PrometheusRule");
    rule = rendered[0]!;
    alerts = rule.spec.groups.flatMap((g) => g.rules);
    await writeFile(join(dir, "rules.yaml"), stringify({ groups: rule.spec.groups }));
    await copyFile(testFile, join(dir, "prometheusrule.test.yaml"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is off by default, like the ServiceMonitor", async () => {
    assert.deepEqual(await renderRules(), []);
  });

  it("renders in the release namespace with the chart's labels and the extra ones", () => {
    assert.equal(rule.metadata.name, "tko-ticket-key-operator");
    assert.equal(rule.metadata.namespace, "tko-system");
    assert.equal(rule.metadata.labels["release"], "prom");
    assert.equal(rule.metadata.labels["app.kubernetes.io/name"], "ticket-key-operator");
    assert.deepEqual(
      alerts.map((a) => a.alert),
      [
        "TicketKeyRotationOverdue",
        "TicketKeyControllerNotLeading",
        "TicketKeyPolicyNotReady",
        "TicketKeyReconcileErrors",
        "TicketKeyConsumerStale",
        "TicketKeySidecarFailing",
        "TicketKeyUpdatesRejected",
      ],
    );
    for (const a of alerts) {
      assert.ok(a.labels["severity"], `${a.alert} has a severity`);
      assert.ok(
        a.annotations["summary"] && a.annotations["description"],
        `${a.alert} has a summary and a description`,
      );
      assert.equal(
        a.annotations["runbook_url"]?.split("#")[1],
        a.alert.toLowerCase(),
        `${a.alert} links its runbook section`,
      );
    }
  });

  it("takes the thresholds from the values", async () => {
    const [custom] = await renderRules(
      "prometheusRule.enabled=true",
      "prometheusRule.consumerStaleSeconds=90000",
      "prometheusRule.notReadyFor=30m",
    );
    const rules = custom!.spec.groups.flatMap((g) => g.rules);
    assert.match(rules.find((r) => r.alert === "TicketKeyConsumerStale")!.expr, /> 90000\b/);
    assert.equal(rules.find((r) => r.alert === "TicketKeyPolicyNotReady")!.for, "30m");
  });

  it("the README has a runbook section for every alert", async () => {
    const readme = await readFile(`${repoRoot}README.md`, "utf8");
    for (const a of alerts)
      assert.match(readme, new RegExp(`^#+ ${a.alert}$`, "m"), `README section "${a.alert}"`);
  });

  it("passes promtool check rules", async () => {
    const { stdout } = await run(promtool!, ["check", "rules", join(dir, "rules.yaml")]);
    console.log(`# promtool check rules: ${stdout.trim().split("\n").join("; ")}`);
    assert.match(stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  it("passes promtool test rules, with a firing and a silent case for every alert", async () => {
    const tests = parse(await readFile(testFile, "utf8")) as PromtoolTests;
    for (const a of alerts) {
      const cases = tests.tests.flatMap((t) => t.alert_rule_test.filter((c) => c.alertname === a.alert));
      assert.ok(
        cases.some((c) => c.exp_alerts.length > 0),
        `${a.alert}: a case where it fires`,
      );
      assert.ok(
        cases.some((c) => c.exp_alerts.length === 0),
        `${a.alert}: a case where it stays silent`,
      );
    }
    const result = await run(promtool!, ["test", "rules", join(dir, "prometheusrule.test.yaml")]).catch(
      (err: unknown) => {
        const { stdout = "", stderr = "" } = err as { stdout?: string; stderr?: string };
        assert.fail(`promtool test rules failed:\n${stdout}${stderr}`);
      },
    );
    const firing = tests.tests.filter((t) => t.alert_rule_test.some((c) => c.exp_alerts.length > 0)).length;
    console.log(
      `# promtool test rules: ${tests.tests.length} groups (${firing} firing, ${tests.tests.length - firing} silent) for ${alerts.length} alerts: ${result.stdout.trim().split("\n").at(-1) ?? ""}`,
    );
  });
});
