/**
 * The TicketKeyPolicy API, defined once. The CRD in crds/ is generated from these schemas
 * (`npm run generate`), with the CEL rules (`x-kubernetes-validations`) that let the API server
 * refuse a bad policy at admission; the controller parses every object with them too, and
 * `validatedSpecSchema` repeats the CEL rules in TypeScript (for objects admitted before the
 * CRD had them, or by a cluster that does not evaluate them) so that a bad spec still gets a
 * status naming the field.
 */
import { z } from "zod";
import { durationPattern, parseDuration } from "../core/duration.ts";
import { formats } from "../core/renderings.ts";
import { group, managedByLabel, policyLabel } from "./names.ts";

const second = 1000;
export const minRotationInterval = 10 * second;
export const maxRotationInterval = 168 * 3600 * second;

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A policy's name is the value of its Secret's `ticketkeys.dev/policy` label: at most 63 characters. */
export const maxPolicyNameLength = 63;

/** Label and annotation keys a secretTemplate may not set: the operator's own. */
export const reservedKeyPrefix = `${group}/`;
export function isReservedKey(key: string): boolean {
  return key === managedByLabel || key === policyLabel || key.startsWith(reservedKeyPrefix);
}

/** A CEL rule the API server checks at admission (the CRD's `x-kubernetes-validations`). */
function cel(
  rule: string,
  message: string,
): { "x-kubernetes-validations": { rule: string; message: string }[] } {
  return { "x-kubernetes-validations": [{ rule, message }] };
}

const reservedKeysRule = cel(
  `self.all(k, !k.startsWith('${reservedKeyPrefix}') && k != '${managedByLabel}')`,
  `keys ${reservedKeyPrefix}* and ${managedByLabel} are reserved for the operator`,
);

const stringMap = z.record(z.string(), z.string()).meta({ maxProperties: 64, ...reservedKeysRule });

export const secretTemplateSchema = z
  .object({
    labels: stringMap.optional().describe("Labels copied onto the Secret."),
    annotations: stringMap.optional().describe("Annotations copied onto the Secret."),
  })
  .describe("Metadata copied onto the Secret.");

export const policySpecSchema = z
  .object({
    secretName: z
      .string()
      .min(1)
      .max(253)
      .regex(dnsSubdomain)
      .optional()
      .describe(
        "Name of the Secret holding the key ring, in the policy's namespace. Default: the policy's name.",
      ),
    rotationInterval: z
      .string()
      .max(64)
      .regex(new RegExp(durationPattern))
      // The range, at admission (CEL's duration() reads Go durations); a malformed value is
      // reported by the pattern alone.
      .meta(
        cel(
          `!self.matches('${durationPattern.replaceAll("\\", "\\\\")}') || (duration(self) >= duration('10s') && duration(self) <= duration('168h'))`,
          "must be between 10s and 168h",
        ),
      )
      .default("1h")
      .describe("How long each key encrypts: a Go duration (h, m, s) from 10s to 168h."),
    retiredKeys: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(1)
      .describe("Keys kept decrypt-only after they stop encrypting (each for one interval)."),
    cipher: z
      .enum(["AES128", "AES256"])
      .default("AES256")
      .describe("Size of the nginx and HAProxy renderings: AES128 = 48 bytes, AES256 = 80 bytes."),
    formats: z
      .array(z.enum(formats))
      .min(1)
      .default([...formats])
      .meta({ "x-kubernetes-list-type": "set" })
      .describe("Renderings written into the Secret besides ring.json."),
    secretTemplate: secretTemplateSchema.optional(),
    suspend: z
      .boolean()
      .default(false)
      .describe("Stop rotating. Expired keys are still purged; the last active key keeps encrypting."),
  })
  .describe("What keys to keep and how to rotate them.");

export type PolicySpecInput = z.input<typeof policySpecSchema>;

/** Cross-field and semantic rules the CRD's structural schema cannot express. */
export const validatedSpecSchema = policySpecSchema.superRefine((spec, ctx) => {
  let interval: number | undefined;
  try {
    interval = parseDuration(spec.rotationInterval);
  } catch (err) {
    ctx.addIssue({ code: "custom", path: ["rotationInterval"], message: (err as Error).message });
  }
  if (interval !== undefined && (interval < minRotationInterval || interval > maxRotationInterval)) {
    ctx.addIssue({
      code: "custom",
      path: ["rotationInterval"],
      message: `must be between 10s and 168h, got ${spec.rotationInterval}`,
    });
  }
  for (const kind of ["labels", "annotations"] as const) {
    for (const key of Object.keys(spec.secretTemplate?.[kind] ?? {})) {
      if (isReservedKey(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["secretTemplate", kind, key],
          message: `is reserved for the operator`,
        });
      }
    }
  }
});

export type PolicySpec = z.output<typeof policySpecSchema> & { rotationIntervalMs: number };

const time = z.string().meta({ format: "date-time" }).describe("RFC 3339 time");

export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: time,
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

export const keyStatusSchema = z.object({
  id: z.string().describe("Short id: the first 8 hex digits of the key's name. Never key bytes."),
  state: z.enum(["Pending", "Active", "Retired"]),
  activeFrom: time,
  activeUntil: time,
  expiresAt: time,
});
export type KeyStatus = z.infer<typeof keyStatusSchema>;

export const policyStatusSchema = z
  .object({
    observedGeneration: z.number().int().optional(),
    conditions: z
      .array(conditionSchema)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
    secretName: z.string().optional(),
    activeKey: z.string().optional(),
    keys: z.array(keyStatusSchema).optional(),
    lastRotationTime: time.optional(),
    nextRotationTime: time.optional(),
    ringIssuedAt: time
      .optional()
      .describe(
        "issuedAt of the last ring the controller wrote: a ring.json issued before it is a replay (a backup, a re-applied copy) and is never continued from.",
      ),
  })
  .describe("What the controller observed and did. Never contains key bytes.");
export type PolicyStatus = z.infer<typeof policyStatusSchema>;

export const objectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string(),
  uid: z.string(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  deletionTimestamp: z.string().optional(),
});

/** The envelope the controller reads; spec is validated separately so a bad spec gets a status. */
export const policyObjectSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: objectMetaSchema,
  spec: z.unknown(),
  status: z.unknown().optional(),
});
export type PolicyObject = z.infer<typeof policyObjectSchema>;

export type SpecResult = { ok: true; spec: PolicySpec } | { ok: false; message: string };

/** Validates a spec; the message names every offending field, e.g. `spec.rotationInterval: ...`. */
export function parseSpec(raw: unknown): SpecResult {
  const result = validatedSpecSchema.safeParse(raw ?? {});
  if (!result.success) {
    const message = result.error.issues
      .map((issue) => `spec.${issue.path.map(String).join(".")}: ${issue.message}`)
      .join("; ");
    return { ok: false, message };
  }
  return {
    ok: true,
    spec: { ...result.data, rotationIntervalMs: parseDuration(result.data.rotationInterval) },
  };
}
