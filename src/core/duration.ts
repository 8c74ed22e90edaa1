/**
 * Go-style durations limited to hours, minutes and seconds ("1h", "90s", "1h30m", "2.5s"), as used
 * by `spec.rotationInterval`. Values are whole milliseconds.
 */

/** Regex source for a CRD `pattern` (RE2 and ECMAScript compatible): the syntax parseDuration accepts. */
export const durationPattern = "^(0|([0-9]+(\\.[0-9]+)?(h|m|s))+)$";

const durationSyntax = new RegExp(durationPattern);
const term = /([0-9]+)(?:\.([0-9]+))?([hms])/g;
const unitMs = { h: 3_600_000n, m: 60_000n, s: 1_000n } as const;
const maxTextLength = 64;

function invalid(text: string, why: string): Error {
  const shown = text.length > maxTextLength ? `${text.slice(0, maxTextLength)}...` : text;
  return new Error(`invalid duration ${JSON.stringify(shown)}: ${why}`);
}

/** Parses a duration such as "1h30m" or "2m30.5s" into milliseconds. Throws on anything else. */
export function parseDuration(text: string): number {
  if (text.length > maxTextLength) throw invalid(text, `longer than ${maxTextLength} characters`);
  if (!durationSyntax.test(text)) {
    throw invalid(text, 'expected numbers with units h, m or s, e.g. "1h", "90s" or "1h30m"');
  }
  let total = 0n;
  for (const [, whole = "", fraction = "", unit = "s"] of text.matchAll(term)) {
    const ms = unitMs[unit as keyof typeof unitMs];
    const scale = 10n ** BigInt(fraction.length);
    const fractionMs = BigInt(fraction || "0") * ms;
    if (fractionMs % scale !== 0n) throw invalid(text, "not a whole number of milliseconds");
    total += BigInt(whole) * ms + fractionMs / scale;
  }
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(text, "too large");
  return Number(total);
}

/**
 * Formats milliseconds the way Go's time.Duration.String does ("1h30m0s", "1m30s", "1.5s", "0s"),
 * except that durations under one second are written in seconds ("0.25s", not "250ms") so that
 * parseDuration(formatDuration(ms)) === ms.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError("duration must be a whole number of milliseconds");
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = String(Math.floor(rest / 1000));
  const millis = String(rest % 1000)
    .padStart(3, "0")
    .replace(/0+$/, "");
  const secondsText = `${seconds}${millis === "" ? "" : `.${millis}`}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${secondsText}`;
  if (minutes > 0) return `${sign}${minutes}m${secondsText}`;
  return `${sign}${secondsText}`;
}
