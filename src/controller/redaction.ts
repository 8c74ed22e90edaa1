/**
 * An API error message about a Secret write, fit for a status condition, an event and a log:
 * an admission webhook may quote the object it refused, so a message that contains any piece of
 * the Secret's data (as the base64 the request carried, or as the decoded bytes' hex or text) is
 * replaced by a note saying so. Pure.
 */

/** Pieces this long of a data value are looked for (shorter ones could match by chance). */
const piece = 16;

function pieces(text: string): string[] {
  const out: string[] = [];
  for (let at = 0; at + piece <= text.length; at += piece / 2) out.push(text.slice(at, at + piece));
  return out;
}

export function withoutSecretData(message: string, data: Record<string, string> | undefined): string {
  for (const base64 of Object.values(data ?? {})) {
    const bytes = Buffer.from(base64, "base64");
    const forms = [base64, bytes.toString("hex"), bytes.toString("latin1")];
    if (forms.some((form) => pieces(form).some((p) => message.includes(p)))) {
      return "(the API's message quoted the Secret's data and is not repeated)";
    }
  }
  return message;
}
