/**
 * Generates the TicketKeyPolicy CustomResourceDefinition from the zod schemas, so the API has
 * one source of truth. `npm run generate` writes it to crds/; a test fails when crds/ is stale.
 */
import { z } from "zod";
import { stringify } from "yaml";
import { maxPolicyNameLength, policySpecSchema, policyStatusSchema } from "./policy.ts";
import { group, kind, plural, policyLabel, shortName, singular, version } from "./names.ts";

type JsonSchema = Record<string, unknown>;

/** The keywords a structural OpenAPI v3 schema in a CRD may carry; anything else is dropped. */
const allowed = new Set([
  "type",
  "description",
  "properties",
  "required",
  "items",
  "enum",
  "pattern",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "default",
  "format",
  "additionalProperties",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations",
  "maxProperties",
]);

function structural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(structural);
  if (schema === null || typeof schema !== "object") return schema;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema as JsonSchema)) {
    if (!allowed.has(k)) continue;
    if (k === "properties") {
      out[k] = Object.fromEntries(Object.entries(v as JsonSchema).map(([name, s]) => [name, structural(s)]));
    } else if (k === "additionalProperties" && typeof v === "boolean") {
      continue; // structural schemas forbid additionalProperties: false next to properties
    } else if ((k === "minimum" || k === "maximum") && Math.abs(v as number) === Number.MAX_SAFE_INTEGER) {
      continue; // zod's implicit safe-integer bounds say nothing to a user
    } else if (k === "default" || k === "enum" || k === "x-kubernetes-validations") {
      out[k] = v;
    } else {
      out[k] = structural(v);
    }
  }
  return out;
}

export function openApiSchema(schema: z.ZodType): JsonSchema {
  return structural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" })) as JsonSchema;
}

export function policyCrd(): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${plural}.${group}`,
      labels: {
        "app.kubernetes.io/name": "ticket-key-operator",
        "app.kubernetes.io/part-of": "ticket-key-operator",
      },
    },
    spec: {
      group,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular,
        shortNames: [shortName],
        categories: ["all"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "Secret", type: "string", jsonPath: ".status.secretName" },
            { name: "Interval", type: "string", jsonPath: ".spec.rotationInterval" },
            { name: "Active key", type: "string", jsonPath: ".status.activeKey" },
            { name: "Next rotation", type: "string", jsonPath: ".status.nextRotationTime" },
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description:
                "Keeps one Secret of TLS session ticket keys, shared by every replica and rotated on schedule.",
              "x-kubernetes-validations": [
                {
                  rule: `size(self.metadata.name) <= ${maxPolicyNameLength}`,
                  message: `metadata.name: must be at most ${maxPolicyNameLength} characters (it is the value of the Secret's ${policyLabel} label)`,
                },
              ],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: { ...openApiSchema(policySpecSchema), default: {} },
                status: openApiSchema(policyStatusSchema),
              },
            },
          },
        },
      ],
    },
  };
}

export function policyCrdYaml(): string {
  return `# Generated from src/api/policy.ts by \`npm run generate\`. Do not edit.\n${stringify(policyCrd(), { lineWidth: 0 })}`;
}
