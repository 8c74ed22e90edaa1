/**
 * A throwaway PKI for the local control plane, made with the openssl CLI: a CA, the
 * kube-apiserver serving certificate, an admin client certificate (group system:masters) and
 * the service-account signing key pair. P-256 keys throughout: quick to generate.
 */
import { join } from "node:path";
import { createCa, openssl, signCert } from "../tls/openssl-ca.ts";

export interface Pki {
  caCert: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export async function createPki(dir: string): Promise<Pki> {
  await createCa(dir, { subject: "/CN=ticket-key-operator local CA", days: 7 });
  const sans = [
    "IP:127.0.0.1",
    "IP:198.19.0.1",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ];
  await signCert(dir, {
    name: "apiserver",
    type: "p256",
    subject: "/CN=kube-apiserver",
    extensions: `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(",")}\n`,
    days: 7,
  });
  await signCert(dir, {
    name: "admin",
    type: "p256",
    subject: "/O=system:masters/CN=admin",
    extensions: "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    days: 7,
  });
  await openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"]);
  await openssl(dir, ["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  return {
    caCert: join(dir, "ca.crt"),
    servingCert: join(dir, "apiserver.crt"),
    servingKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.crt"),
    adminKey: join(dir, "admin.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
  };
}
