/**
 * A small self-contained SVG line chart: resumption rate per time bucket, with rotations marked
 * as vertical lines. No dependencies; opens in any browser.
 */
export interface ChartInput {
  title: string;
  /** seconds since start -> rate in [0, 1] (NaN where nothing happened) */
  points: { t: number; rate: number }[];
  /** seconds since start */
  rotations: number[];
  durationS: number;
}

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function resumptionChart({ title, points, rotations, durationS }: ChartInput): string {
  const w = 800;
  const h = 320;
  const m = { left: 60, right: 20, top: 40, bottom: 40 };
  const x = (t: number): number => m.left + (t / Math.max(1, durationS)) * (w - m.left - m.right);
  const y = (r: number): number => m.top + (1 - r) * (h - m.top - m.bottom);
  const valid = points.filter((p) => Number.isFinite(p.rate));
  const path = valid
    .map((p, i) => `${i === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.rate).toFixed(1)}`)
    .join(" ");
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (r) =>
        `<line x1="${m.left}" x2="${w - m.right}" y1="${y(r)}" y2="${y(r)}" stroke="#ddd"/>` +
        `<text x="${m.left - 8}" y="${y(r) + 4}" text-anchor="end" font-size="12">${r * 100}%</text>`,
    )
    .join("");
  const marks = rotations
    .map(
      (t, i) =>
        `<line x1="${x(t)}" x2="${x(t)}" y1="${m.top}" y2="${h - m.bottom}" stroke="#e67e22" stroke-dasharray="4 3"/>` +
        `<text x="${x(t) + 3}" y="${m.top + 12}" font-size="11" fill="#e67e22">rotation ${i + 1}</text>`,
    )
    .join("");
  const ticks = Array.from({ length: 7 }, (_, i) => (i * durationS) / 6)
    .map(
      (t) =>
        `<text x="${x(t)}" y="${h - m.bottom + 18}" text-anchor="middle" font-size="12">${t.toFixed(0)} s</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<rect width="${w}" height="${h}" fill="white"/>
<text x="${w / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>
${grid}${marks}${ticks}
<path d="${path}" fill="none" stroke="#2c7be5" stroke-width="2"/>
<text x="${m.left}" y="${h - 6}" font-size="11" fill="#555">resumed reconnections per second (blue); dashed: the active key changed</text>
</svg>
`;
}
