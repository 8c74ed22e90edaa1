import { z } from "zod";

/**
 * The zod schema of ring.json (docs/design.md#ringjson). Every message here is fixed text: an
 * error never quotes the input, so it can never leak a name or a seed.
 */

export const ringVersion = 1;
export const maxRingKeys = 64;
export const nameBytes = 16;
export const seedBytes = 32;
/** 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write with a four-digit year. */
export const maxInstant = 253_402_300_799_999;

/** A ring.json that fails validation. The message names the field, never the content. */
export class RingFormatError extends Error {
  override readonly name = "RingFormatError";
  toJSON(): { name: string; message: string } {
    return { name: this.name, message: this.message };
  }
}

const rfc3339Utc = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/;

/** Epoch milliseconds of an RFC 3339 UTC timestamp ("2026-11-22T10:00:00.000Z"), or NaN. */
export function parseInstant(text: string): number {
  const match = rfc3339Utc.exec(text);
  if (!match) return Number.NaN;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const millis = Number((match[7] ?? "").padEnd(3, "0"));
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const date = new Date(ms);
  const exact =
    year >= 1970 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return exact && ms <= maxInstant ? ms : Number.NaN;
}

/** RFC 3339 UTC with milliseconds, as written in ring.json. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString();
}

function isCanonicalBase64(text: string, bytes: number): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return false;
  const decoded = Buffer.from(text, "base64");
  return decoded.length === bytes && decoded.toString("base64") === text;
}

/** A required string field. */
function text(): z.ZodString {
  return z.string({ error: (issue) => (issue.input === undefined ? "required" : "expected a string") });
}

const name = text()
  .regex(/^[0-9a-f]{32}$/, { error: `expected ${nameBytes} bytes as 32 lowercase hex characters` })
  .transform((hex) => Buffer.from(hex, "hex"));

const seed = text()
  .refine((text) => isCanonicalBase64(text, seedBytes), { error: `expected base64 of ${seedBytes} bytes` })
  .transform((text) => Buffer.from(text, "base64"));

const instant = text()
  .transform((text) => parseInstant(text))
  .refine((ms) => !Number.isNaN(ms), {
    error: "expected an RFC 3339 UTC timestamp between 1970 and 9999, at most millisecond precision",
  });

const key = z
  .object({ name, seed, createdAt: instant, activeFrom: instant, activeUntil: instant, expiresAt: instant })
  .superRefine((k, ctx) => {
    if (k.activeUntil <= k.activeFrom) {
      ctx.addIssue({ code: "custom", path: ["activeUntil"], message: "must be after activeFrom" });
    }
    if (k.expiresAt < k.activeUntil) {
      ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "must not be before activeUntil" });
    }
    if (k.expiresAt < k.createdAt) {
      ctx.addIssue({ code: "custom", path: ["createdAt"], message: "must not be after expiresAt" });
    }
  });

export const ringSchema = z.object({
  version: z.literal(ringVersion, { error: `expected ${ringVersion}` }),
  /** When the controller computed the ring (monotonic); absent in rings of older controllers. */
  issuedAt: instant.optional(),
  keys: z
    .array(key, { error: (issue) => (issue.input === undefined ? "required" : "expected an array") })
    .min(1, { error: "expected at least one key" })
    .max(maxRingKeys, { error: `expected at most ${maxRingKeys} keys` })
    .superRefine((keys, ctx) => {
      const names = new Set<string>();
      keys.forEach((k, i) => {
        const hex = k.name.toString("hex");
        if (names.has(hex))
          ctx.addIssue({ code: "custom", path: [i, "name"], message: "duplicate key name" });
        names.add(hex);
        const previous = keys[i - 1];
        if (previous && k.activeFrom <= previous.activeFrom) {
          ctx.addIssue({
            code: "custom",
            path: [i, "activeFrom"],
            message: "keys must be sorted by activeFrom",
          });
        }
      });
    }),
});

/** Messages for issues the schema does not word itself (wrong JSON types, missing fields). */
function genericMessage(issue: { code?: string; expected?: unknown; input?: unknown }): string {
  if (issue.code === "invalid_type") {
    return issue.input === undefined ? "required" : `expected ${String(issue.expected)}`;
  }
  return "invalid value";
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = "ring";
  for (const part of path) text += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
  return text.replace(/^ring\./, "");
}

/** Validates parsed JSON, throwing a RingFormatError that lists at most five problems. */
export function validateRingJson(json: unknown): z.output<typeof ringSchema> {
  const result = ringSchema.safeParse(json, { error: genericMessage });
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  throw new RingFormatError(`invalid ring.json: ${problems.join("; ")}`);
}
