/**
 * Raw reads from the local control plane's etcd through its JSON gateway (`/v3/kv/range`), to
 * see what the API server actually stored: tests use it to check encryption at rest.
 */

/** The stored value of `key` (e.g. /registry/secrets/<namespace>/<name>), or undefined. */
export async function etcdValue(etcdUrl: string, key: string): Promise<Buffer | undefined> {
  const res = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: Buffer.from(key).toString("base64") }),
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`etcd range ${key}: HTTP ${res.status}`);
  const body = (await res.json()) as { kvs?: { value?: string }[] };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, "base64");
}
