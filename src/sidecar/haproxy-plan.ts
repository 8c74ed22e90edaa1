/**
 * How to bring HAProxy's runtime ticket keys to a target window with `set ssl tls-key`.
 *
 * HAProxy keeps the keys of one `tls-ticket-keys` file in a ring of TLS_TICKETS_NO slots (3 by
 * default). `show tls-keys <ref>` lists them oldest first; HAProxy encrypts with the penultimate
 * one and decrypts with all of them. `set ssl tls-key <ref> <key>` overwrites the OLDEST slot and
 * moves the encryption index one step: the new key becomes the last, and the key that was last
 * now encrypts (HAProxy 2.6 ssl_sock_update_tlskey_ref; management.txt "set ssl tls-key").
 * So from [a, b, c] (encrypting b), pushing d gives [b, c, d] (encrypting c).
 *
 * To reach a target window [t0 .. tn-1] from the current [c0 .. cn-1], m pushes of the last m
 * target keys work when c[m..] equals t[..n-m]; the smallest such m (n at worst) is used. With
 * the windows of renderings.ts a scheduled rotation needs one push at the activation instant
 * and two when the next ring arrives (when the controller rotates late, the old retired key
 * expires just before the activation: two pushes then, one at the activation). The pushes are
 * sent in ONE command line (`;`-separated), so the intermediate states last microseconds; in
 * them HAProxy may encrypt with another live key than the active one (e.g. the pending key, which
 * every replica has held for a full interval), so their tickets still resume everywhere
 * (test/unit/sidecar/renderings.test.ts checks this along the schedule).
 */

/** The number of pushes that turn `current` (oldest first) into `target`. */
export function pushesNeeded(current: readonly Buffer[], target: readonly Buffer[]): number {
  const n = target.length;
  if (current.length !== n) return n;
  for (let m = 0; m < n; m++) {
    let matches = true;
    for (let i = 0; i < n - m && matches; i++)
      matches = current[m + i]?.equals(target[i] ?? Buffer.alloc(0)) ?? false;
    if (matches) return m;
  }
  return n;
}

/** The keys to push, in order, to turn `current` into `target` ([] when already there). */
export function planPushes(current: readonly Buffer[], target: readonly Buffer[]): Buffer[] {
  const m = pushesNeeded(current, target);
  return target.slice(target.length - m);
}

/** What HAProxy holds after pushing `keys` onto `current` (the model above). */
export function afterPushes(current: readonly Buffer[], keys: readonly Buffer[]): Buffer[] {
  const n = current.length;
  return [...current, ...keys].slice(-n);
}

/** The window's equality, key by key. */
export function sameKeys(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((bytes, i) => bytes.equals(b[i] ?? Buffer.alloc(0)));
}
