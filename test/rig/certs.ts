/** A throwaway CA and server certificate for the TLS rigs (openssl CLI): RSA-2048 or ECDSA P-256. */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type KeyType = "rsa2048" | "p256";

export interface ServerCert {
  dir: string;
  keyPath: string;
  certPath: string;
  caPath: string;
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

const keyArgs = (type: KeyType): string[] =>
  type === "rsa2048" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

export interface CertOptions {
  /** where to write the files; a new temporary directory by default */
  dir?: string;
  /** subjectAltName entries; default DNS:localhost, IP:127.0.0.1 */
  names?: string[];
}

/** A CA and a server certificate it signed; clients trust `ca`, servers use `key` and `cert`. */
export async function makeServerCert(type: KeyType = "p256", options: CertOptions = {}): Promise<ServerCert> {
  const where = options.dir ?? (await mkdtemp(join(tmpdir(), "tko-cert-")));
  const names = options.names ?? ["DNS:localhost", "IP:127.0.0.1"];
  const o = (args: string[]): Promise<unknown> => run("openssl", args, { cwd: where });
  await o([
    "req",
    "-x509",
    ...keyArgs("p256"),
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=rig CA",
  ]);
  await o([
    "req",
    "-new",
    ...keyArgs(type),
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await writeFile(
    join(where, "server.ext"),
    `subjectAltName=${names.join(",")}\nextendedKeyUsage=serverAuth\n`,
  );
  await o([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    "server.crt",
    "-extfile",
    "server.ext",
  ]);
  const [key, cert, ca] = await Promise.all(
    ["server.key", "server.crt", "ca.crt"].map((f) => readFile(join(where, f))),
  );
  return {
    dir: where,
    keyPath: join(where, "server.key"),
    certPath: join(where, "server.crt"),
    caPath: join(where, "ca.crt"),
    key: key!,
    cert: cert!,
    ca: ca!,
  };
}
