/** A throwaway CA and server certificate for the TLS rigs (openssl CLI): RSA-2048 or ECDSA P-256. */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCa, signCert, type KeyType } from "./openssl-ca.ts";

export type { KeyType };

export interface ServerCert {
  dir: string;
  keyPath: string;
  certPath: string;
  caPath: string;
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

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
  await createCa(where, { subject: "/CN=rig CA", days: 2 });
  await signCert(where, {
    name: "server",
    type,
    subject: "/CN=localhost",
    extensions: `subjectAltName=${names.join(",")}\nextendedKeyUsage=serverAuth\n`,
    days: 2,
  });
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
