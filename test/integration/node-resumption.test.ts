/**
 * The library on real TLS: 3 replica processes behind a round-robin balancer, real Node TLS
 * clients reconnecting with the session they got, TLS 1.2 and TLS 1.3 separately.
 *
 * - steady state: shared keys resume (>= 99%); per-replica keys resume about 1/3 of the time,
 *   which shows the rig measures what it claims;
 * - rotation: the schedule rotates every 5 s and each replica receives every new ring up to 3 s
 *   after the others; the router loses no resumption to the skew; single-key mode's losses are
 *   measured and printed.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { makeServerCert, type ServerCert } from "../../harness/tls/certs.ts";
import {
  percent,
  runClients,
  summarize,
  type Handshake,
  type TlsVersion,
} from "../../harness/clients/client.ts";
import { Feeder, ringDirectories, startFleet, type ReplicaMode } from "../../harness/fleet/fleet.ts";
import { classifyLosses, type Losses } from "../../harness/keys.ts";

let cert: ServerCert;
before(async () => {
  cert = await makeServerCert("p256");
});

async function drive(
  mode: ReplicaMode,
  version: TlsVersion,
  durationMs: number,
  schedule?: { intervalMs: number; skewMs: number[] },
): Promise<{ handshakes: Handshake[]; rotations: number; losses: Losses }> {
  const dirs = await ringDirectories(3);
  const feeder =
    mode === "per-replica"
      ? undefined
      : await Feeder.start(dirs, schedule?.skewMs ?? [0, 0, 0], {
          rotationIntervalMs: schedule?.intervalMs ?? 3_600_000,
          retiredKeys: 1,
          suspend: false,
        });
  const fleet = await startFleet({
    replicas: 3,
    mode,
    cert,
    source: mode === "per-replica" ? "none" : { directories: dirs },
  });
  try {
    const end = Date.now() + durationMs;
    const handshakes = await runClients(4, {
      port: fleet.balancer.port,
      ca: cert.ca,
      version,
      until: () => Date.now() > end,
      pauseMs: 10,
    });
    // Classify each reconnection that was not resumed by the key its offered ticket was under.
    const losses = classifyLosses(handshakes, feeder?.keys ?? new Map());
    return { handshakes, rotations: feeder?.rotations ?? 0, losses };
  } finally {
    feeder?.stop();
    await fleet.stop();
  }
}

for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
  describe(`Node replicas, ${version}`, () => {
    it("steady state: shared keys resume >= 99%, per-replica keys about 1/3", async () => {
      const shared = summarize((await drive("router", version, 4_000)).handshakes);
      const single = summarize((await drive("single", version, 4_000)).handshakes);
      const baseline = summarize((await drive("per-replica", version, 4_000)).handshakes);
      console.log(
        `# ${version} steady: router ${percent(shared.rate)} of ${shared.reconnections}, single-key ${percent(single.rate)} of ${single.reconnections}, per-replica keys ${percent(baseline.rate)} of ${baseline.reconnections}`,
      );
      for (const s of [shared, single, baseline]) assert.equal(s.errors, 0);
      assert.ok(shared.rate >= 0.99, `router ${percent(shared.rate)}`);
      assert.ok(single.rate >= 0.99, `single-key ${percent(single.rate)}`);
      assert.ok(
        baseline.rate > 0.2 && baseline.rate < 0.5,
        `per-replica keys ${percent(baseline.rate)} (expected about 1/3)`,
      );
    });

    it("through rotations with up to 3 s skew: the router loses nothing to skew; single-key losses measured", async () => {
      const schedule = { intervalMs: 5_000, skewMs: [0, 1_500, 3_000] };
      const router = await drive("router", version, 17_000, schedule);
      const single = await drive("single", version, 17_000, schedule);
      for (const [name, run] of [
        ["router", router],
        ["single-key", single],
      ] as const) {
        const s = summarize(run.handshakes);
        console.log(
          `# ${version} ${name} through ${run.rotations} rotations: ${percent(s.rate)} resumed of ${s.reconnections} reconnections; full handshakes: ${run.losses.live} with a ticket whose key was live, ${run.losses.expired} whose key had expired`,
        );
        assert.ok(run.rotations >= 3, `${run.rotations} rotations`);
        assert.equal(s.errors, 0);
      }
      // The router holds every live key: a ticket whose key is still in the ring always resumes,
      // whichever replica receives it and whatever that replica has received so far.
      assert.equal(router.losses.live, 0, "router losses attributable to skew");
      const r = summarize(router.handshakes);
      assert.ok(r.rate >= 0.99, `router through rotations ${percent(r.rate)}`);
    });
  });
}
