/**
 * `npm run test:fuzz`: the ClientHello parser against a million generated inputs (or
 * FUZZ_INPUTS), seeded and reproducible (FUZZ_SEED): valid ClientHellos built from random parts
 * (TLS 1.2 session tickets, TLS 1.3 pre_shared_key identities, padding, GREASE), the captured
 * fixtures, their truncations, byte mutations (flips, inserts, deletes, corrupted lengths) and
 * random bytes; and trickled: every generated input fed again in random chunks (byte by byte
 * too) through the router's ClientHelloBuffer. Checks each answer is well formed, that nothing
 * throws, that trickling gives the one-shot answer, and that the independent reference parser
 * agrees; prints the count, the exceptions and the slowest input. Exits 1 on any failure.
 *
 * The time per input is printed, not asserted (a shared machine): the parser is linear and
 * bounded by MAX_CLIENT_HELLO_BYTES.
 */
import { performance } from "node:perf_hooks";
import { inspectClientHello, MAX_CLIENT_HELLO_BYTES } from "../../src/core/client-hello.ts";
import { ClientHelloBuffer } from "../../src/core/client-hello-buffer.ts";
import {
  assertWellFormedResult,
  clientHello,
  loadFixtures,
  pskData,
  record,
  reRecord,
  referenceSummary,
  summary,
  ticketBytes,
} from "../unit/client-hello/support.ts";

const total = Number(process.env["FUZZ_INPUTS"] ?? 1_000_000);
let seed = Number(process.env["FUZZ_SEED"] ?? 20261201) >>> 0;

/** mulberry32: small, fast, seeded. */
function next(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
}
const int = (n: number): number => Math.floor(next() * n);
const bytes = (n: number): number[] => Array.from({ length: n }, () => int(256));

function randomExtensions(): { type: number; data: number[] }[] {
  const exts: { type: number; data: number[] }[] = [];
  for (let i = int(6); i > 0; i--) {
    const grease = 0x0a0a + 0x1010 * int(16);
    exts.push({ type: next() < 0.3 ? grease : int(0x10000), data: bytes(int(40)) });
  }
  if (next() < 0.5) exts.push({ type: 35, data: next() < 0.2 ? [] : ticketBytes(int(256), 16 + int(200)) });
  if (next() < 0.5) {
    const ids = Array.from({ length: 1 + int(3) }, () => ticketBytes(int(256), 16 + int(150)));
    exts.push({ type: 41, data: pskData(ids, next() < 0.9 ? ids.length : int(4)) });
  }
  if (next() < 0.3) exts.push({ type: 21, data: new Array<number>(int(512)).fill(0) }); // padding
  return exts;
}

function validHello(): Uint8Array {
  const message = clientHello({
    sessionId: bytes(next() < 0.5 ? 32 : int(33)),
    cipherSuites: bytes(2 * (1 + int(20))),
    compression: [0],
    extensions: next() < 0.05 ? undefined : randomExtensions(),
  });
  if (next() < 0.8) return record(message);
  // fragmented over several records
  const sizes: number[] = [];
  for (let left = message.length; left > 0;) {
    const size = Math.min(left, 1 + int(300));
    sizes.push(size);
    left -= size;
  }
  return reRecord(message, sizes);
}

function mutate(input: Uint8Array): Uint8Array {
  let out = Uint8Array.from(input);
  for (let i = 1 + int(4); i > 0 && out.length > 0; i--) {
    const at = int(out.length);
    switch (int(4)) {
      case 0:
        out[at] = (out[at] ?? 0) ^ (1 << int(8));
        break;
      case 1:
        out = Uint8Array.from([...out.subarray(0, at), ...bytes(1 + int(4)), ...out.subarray(at)]);
        break;
      case 2:
        out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1 + int(4))]);
        break;
      default:
        out[at] = next() < 0.5 ? 0xff : 0; // a length byte pushed to an extreme
    }
  }
  return out;
}

const fixtures = loadFixtures().map((f) => f.bytes);
function generate(): { kind: string; input: Uint8Array } {
  const r = next();
  const base = (): Uint8Array => (next() < 0.3 ? fixtures[int(fixtures.length)]! : validHello());
  if (r < 0.35) return { kind: "valid", input: base() };
  if (r < 0.55) {
    const b = base();
    return { kind: "truncated", input: b.subarray(0, int(b.length)) };
  }
  if (r < 0.9) return { kind: "mutated", input: mutate(base()) };
  if (r < 0.97) return { kind: "random", input: Uint8Array.from(bytes(int(700))) };
  return { kind: "oversized", input: Uint8Array.from(bytes(MAX_CLIENT_HELLO_BYTES + int(2000))) };
}

/** Fed in random chunks through ClientHelloBuffer, as the router reads a socket. */
function trickled(input: Uint8Array): string {
  const byteByByte = next() < 0.2;
  const chunkOf = (): number => (byteByByte ? 1 : 1 + int(64));
  let at = Math.min(input.length, chunkOf());
  const first = Buffer.from(input.subarray(0, at));
  const initial = inspectClientHello(first);
  if (initial.kind !== "need-more") return summary(initial);
  const gathered = new ClientHelloBuffer(first, initial.needed);
  while (at < input.length) {
    const size = chunkOf();
    const answer = gathered.push(Buffer.from(input.subarray(at, at + size)));
    at += size;
    if (answer !== undefined) return summary(answer);
  }
  return "need-more";
}

const counts = new Map<string, number>();
const answers = new Map<string, number>();
const failures: string[] = [];
let exceptions = 0;
let slowest = { ms: 0, kind: "", bytes: 0 };
const times = new Float64Array(total);
const started = performance.now();
for (let i = 0; i < total; i++) {
  const { kind, input } = generate();
  counts.set(kind, (counts.get(kind) ?? 0) + 1);
  try {
    const t0 = performance.now();
    const result = inspectClientHello(input);
    const ms = performance.now() - t0;
    times[i] = ms;
    if (ms > slowest.ms) slowest = { ms, kind, bytes: input.length };
    assertWellFormedResult(result, input);
    const one = summary(result);
    answers.set(result.kind, (answers.get(result.kind) ?? 0) + 1);
    const trickle = trickled(input);
    counts.set("trickled", (counts.get("trickled") ?? 0) + 1);
    // (a trickled input may stop at need-more only where the whole one does)
    if (trickle !== one)
      failures.push(`input ${i} (${kind}, ${input.length} bytes): one shot ${one}, trickled ${trickle}`);
    if (i % 10 === 0 && referenceSummary(input) !== one) {
      failures.push(
        `input ${i} (${kind}, ${input.length} bytes): parser ${one}, reference ${referenceSummary(input)}`,
      );
    }
  } catch (err) {
    exceptions++;
    if (failures.length < 20)
      failures.push(`input ${i} (${kind}): ${err instanceof Error ? err.message : String(err)}`);
  }
}
const seconds = (performance.now() - started) / 1000;
const inputs = [...counts].map(([k, n]) => `${k} ${n}`).join(", ");
console.log(
  `# ClientHello fuzz (seed ${process.env["FUZZ_SEED"] ?? 20261201}): ${total} inputs (${inputs}) in ${seconds.toFixed(1)} s`,
);
console.log(`# answers: ${[...answers].map(([k, n]) => `${k} ${n}`).join(", ")}`);
times.sort();
const at = (q: number): string =>
  `${((times[Math.min(total - 1, Math.floor(q * total))] ?? 0) * 1000).toFixed(1)} µs`;
console.log(
  `# exceptions: ${exceptions}; time per input: median ${at(0.5)}, p99 ${at(0.99)}, p99.99 ${at(0.9999)}, slowest ${(slowest.ms * 1000).toFixed(0)} µs (${slowest.kind}, ${slowest.bytes} bytes)`,
);
for (const f of failures.slice(0, 20)) console.log(`# FAILED ${f}`);
console.log(
  `${failures.length === 0 && exceptions === 0 ? 1 : 0} passed, ${failures.length + exceptions > 0 ? 1 : 0} failed`,
);
process.exitCode = failures.length === 0 && exceptions === 0 ? 0 : 1;
