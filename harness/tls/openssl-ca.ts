/**
 * A throwaway certificate authority with the openssl CLI, its files in one directory: ca.key and
 * its self-signed ca.crt, and the certificates it signs (<name>.key, <name>.csr, <name>.crt).
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type KeyType = "rsa2048" | "p256";

/** Runs `openssl args` in `dir`. */
export async function openssl(dir: string, args: string[]): Promise<void> {
  await run("openssl", args, { cwd: dir });
}

/** openssl req's arguments for a new unencrypted key of `type`. */
const newKey = (type: KeyType): string[] => [
  ...(type === "rsa2048"
    ? ["-newkey", "rsa:2048"]
    : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
  "-nodes",
];

/** A new CA in `dir`: a P-256 key ca.key and its self-signed ca.crt, valid `days`. */
export async function createCa(dir: string, options: { subject: string; days: number }): Promise<void> {
  await openssl(dir, [
    "req",
    "-x509",
    ...newKey("p256"),
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    String(options.days),
    "-subj",
    options.subject,
  ]);
}

/**
 * A new key <name>.key of `type` and its certificate <name>.crt, signed by the CA in `dir`
 * (createCa), with `extensions` (openssl extfile lines: subjectAltName=..., ...), valid `days`.
 */
export async function signCert(
  dir: string,
  options: { name: string; type: KeyType; subject: string; extensions: string; days: number },
): Promise<void> {
  const { name } = options;
  await writeFile(join(dir, `${name}.ext`), options.extensions);
  await openssl(dir, [
    "req",
    "-new",
    ...newKey(options.type),
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    options.subject,
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    String(options.days),
    "-out",
    `${name}.crt`,
    "-extfile",
    `${name}.ext`,
  ]);
}
