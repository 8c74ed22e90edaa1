/** The tables every scenario prints (aligned text) and the summary writes (Markdown). */

export type Row = Record<string, string | number>;

function columns(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

const cell = (value: string | number | undefined): string =>
  value === undefined ? "" : typeof value === "number" ? String(value) : value;

/** An aligned text table; numbers are right-aligned. */
export function textTable(rows: readonly Row[]): string {
  const cols = columns(rows);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[], right: boolean[]): string =>
    values
      .map((v, i) => (right[i] === true ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const numeric = cols.map((c) =>
    rows.every((r) => typeof r[c] === "number" || /^[-\d.,%x]+$/.test(cell(r[c]))),
  );
  return [
    line(cols, numeric),
    line(
      widths.map((w) => "-".repeat(w)),
      numeric,
    ),
    ...rows.map((r) =>
      line(
        cols.map((c) => cell(r[c])),
        numeric,
      ),
    ),
  ].join("\n");
}

/** A Markdown table. */
export function markdownTable(rows: readonly Row[]): string {
  const cols = columns(rows);
  const esc = (s: string): string => s.replace(/\|/g, "\\|");
  return [
    `| ${cols.map(esc).join(" | ")} |`,
    `|${cols.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${cols.map((c) => esc(cell(r[c]))).join(" | ")} |`),
  ].join("\n");
}
