/**
 * Tiny self-contained SVG charts for the bench's results and the demo (no dependencies; any
 * browser opens them): a grouped bar chart and a line chart of one or more panels with vertical
 * event marks (the rotations).
 */

const palette = ["#2c7be5", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400"];
const colour = (i: number): string => palette[i % palette.length] ?? "#333";
const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
const f1 = (x: number): string => x.toFixed(1);

/** Round tick values from 0 (or `from`) to at least `to`: steps of 1, 2, 2.5 or 5 x 10^k. */
export function niceTicks(to: number, from = 0, count = 5): number[] {
  const span = Math.max(1e-9, to - from);
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = Math.floor(from / step) * step; v < to + step / 2; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function document(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

function legend(series: readonly string[], x: number, y: number, dashed: readonly boolean[] = []): string {
  return series
    .map((name, i) => {
      const lx = x + i * 170;
      const dash = dashed[i] === true ? ' stroke-dasharray="5 3"' : "";
      return (
        `<line x1="${lx}" x2="${lx + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${colour(i)}" stroke-width="4"${dash}/>` +
        `<text x="${lx + 28}" y="${y}" font-size="12">${esc(name)}</text>`
      );
    })
    .join("");
}

export interface BarChartInput {
  title: string;
  /** One group of bars per label (x axis). */
  groups: readonly string[];
  /** One bar per series in every group. */
  series: readonly string[];
  /** values[group][series]; NaN draws no bar. */
  values: readonly (readonly number[])[];
  yLabel: string;
  format?: (v: number) => string;
  /** The y axis labels (default: format). */
  formatTick?: (v: number) => string;
  /** Horizontal reference lines (a goal, 1.0). */
  references?: readonly { value: number; label: string }[];
  yMax?: number;
}

/** A grouped bar chart, values printed above the bars. */
export function barChart(input: BarChartInput): string {
  const format = input.format ?? ((v: number) => v.toPrecision(3));
  const groupWidth = Math.max(120, input.series.length * 46 + 30);
  const m = { left: 70, right: input.references?.length ? 110 : 20, top: 50, bottom: 70 };
  const w = Math.max(640, m.left + m.right + input.groups.length * groupWidth);
  const h = 380;
  const all = input.values.flat().filter(Number.isFinite);
  const ticks = niceTicks(
    input.yMax ?? Math.max(...all, ...(input.references ?? []).map((r) => r.value), Number.MIN_VALUE) * 1.12,
  );
  const top = ticks.at(-1) ?? 1;
  const y = (v: number): number => m.top + (1 - v / top) * (h - m.top - m.bottom);
  const plotWidth = w - m.left - m.right;
  const gw = plotWidth / Math.max(1, input.groups.length);
  const bw = Math.min(40, (gw - 20) / Math.max(1, input.series.length));
  const body: string[] = [];
  for (const v of ticks) {
    body.push(
      `<line x1="${m.left}" x2="${w - m.right}" y1="${f1(y(v))}" y2="${f1(y(v))}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${f1(y(v) + 4)}" text-anchor="end" font-size="11">${esc((input.formatTick ?? format)(v))}</text>`,
    );
  }
  input.groups.forEach((group, g) => {
    const gx = m.left + g * gw + (gw - bw * input.series.length) / 2;
    input.series.forEach((_, s) => {
      const v = input.values[g]?.[s] ?? Number.NaN;
      if (!Number.isFinite(v)) return;
      const x = gx + s * bw;
      body.push(
        `<rect x="${f1(x + 2)}" y="${f1(y(v))}" width="${f1(bw - 4)}" height="${f1(Math.max(0, h - m.bottom - y(v)))}" fill="${colour(s)}"/>`,
        `<text x="${f1(x + bw / 2)}" y="${f1(y(v) - 4)}" text-anchor="middle" font-size="10">${esc(format(v))}</text>`,
      );
    });
    body.push(
      `<text x="${f1(m.left + g * gw + gw / 2)}" y="${h - m.bottom + 18}" text-anchor="middle" font-size="12">${esc(group)}</text>`,
    );
  });
  for (const ref of input.references ?? []) {
    body.push(
      `<line x1="${m.left}" x2="${w - m.right}" y1="${f1(y(ref.value))}" y2="${f1(y(ref.value))}" stroke="#c0392b" stroke-dasharray="6 4"/>`,
      `<text x="${w - m.right + 4}" y="${f1(y(ref.value) + 4)}" font-size="11" fill="#c0392b">${esc(ref.label)}</text>`,
    );
  }
  body.push(
    `<line x1="${m.left}" x2="${w - m.right}" y1="${h - m.bottom}" y2="${h - m.bottom}" stroke="#333"/>`,
    `<text x="16" y="${(m.top + h - m.bottom) / 2}" font-size="12" transform="rotate(-90 16 ${(m.top + h - m.bottom) / 2})" text-anchor="middle">${esc(input.yLabel)}</text>`,
    legend(input.series, m.left, h - 18),
  );
  return document(w, h, input.title, body);
}

export interface LineSeries {
  name: string;
  points: readonly { x: number; y: number }[];
  dashed?: boolean;
}

export interface LinePanel {
  title: string;
  series: readonly LineSeries[];
  /** x positions of vertical dashed marks (e.g. rotations). */
  marks?: readonly number[];
  markLabel?: string;
  xMax: number;
  /** This panel's own y axis (default: the chart's). */
  y?: { min: number; max: number; label: string; format?: (v: number) => string };
}

export interface LineChartInput {
  title: string;
  panels: readonly LinePanel[];
  xLabel: string;
  yLabel: string;
  yMin: number;
  yMax: number;
  formatY?: (v: number) => string;
  note?: string;
}

/** Line charts stacked vertically (one per panel) sharing one legend; NaN points break a line. */
export function lineChart(input: LineChartInput): string {
  const formatY = input.formatY ?? ((v: number) => v.toPrecision(3));
  const w = 900;
  const ph = 220;
  const m = { left: 70, right: 20, top: 50 };
  const names = [...new Set(input.panels.flatMap((p) => p.series.map((s) => s.name)))];
  const dashed = names.map((n) =>
    input.panels.some((p) => p.series.some((s) => s.name === n && s.dashed === true)),
  );
  const h = m.top + input.panels.length * (ph + 40) + 40 + (input.note ? 16 : 0);
  const body: string[] = [];
  input.panels.forEach((panel, p) => {
    const top = m.top + p * (ph + 40) + 18;
    const bottom = top + ph - 40;
    const yMin = panel.y?.min ?? input.yMin;
    const yMax = panel.y?.max ?? input.yMax;
    const formatTick = panel.y?.format ?? formatY;
    const x = (v: number): number => m.left + (v / Math.max(1e-9, panel.xMax)) * (w - m.left - m.right);
    const y = (v: number): number =>
      bottom - ((Math.min(yMax, Math.max(yMin, v)) - yMin) / (yMax - yMin)) * (bottom - top);
    const mid = (top + bottom) / 2;
    body.push(
      `<text x="${m.left + 8}" y="${top - 8}" font-size="13">${esc(panel.title)}</text>`,
      `<text x="16" y="${f1(mid)}" font-size="11" transform="rotate(-90 16 ${f1(mid)})" text-anchor="middle">${esc(panel.y?.label ?? input.yLabel)}</text>`,
    );
    for (const v of niceTicks(yMax, yMin, 4).filter((t) => t <= yMax)) {
      body.push(
        `<line x1="${m.left}" x2="${w - m.right}" y1="${f1(y(v))}" y2="${f1(y(v))}" stroke="#eee"/>`,
        `<text x="${m.left - 6}" y="${f1(y(v) + 4)}" text-anchor="end" font-size="11">${esc(formatTick(v))}</text>`,
      );
    }
    for (const v of niceTicks(panel.xMax, 0, 8).filter((t) => t <= panel.xMax)) {
      body.push(`<text x="${f1(x(v))}" y="${bottom + 15}" text-anchor="middle" font-size="11">${v}</text>`);
    }
    (panel.marks ?? []).forEach((t, i) => {
      body.push(
        `<line x1="${f1(x(t))}" x2="${f1(x(t))}" y1="${top}" y2="${bottom}" stroke="#999" stroke-dasharray="3 3"/>`,
        `<text x="${f1(x(t) + 3)}" y="${top + 10}" font-size="10" fill="#777">${esc(`${panel.markLabel ?? ""}${i + 1}`)}</text>`,
      );
    });
    for (const series of panel.series) {
      const i = names.indexOf(series.name);
      let d = "";
      let pen = "M";
      for (const pt of series.points) {
        if (!Number.isFinite(pt.y)) {
          pen = "M";
          continue;
        }
        d += `${pen}${f1(x(pt.x))},${f1(y(pt.y))} `;
        pen = "L";
      }
      const dash = series.dashed === true ? ' stroke-dasharray="5 3"' : "";
      body.push(`<path d="${d.trim()}" fill="none" stroke="${colour(i)}" stroke-width="1.6"${dash}/>`);
    }
    body.push(`<line x1="${m.left}" x2="${w - m.right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  });
  const base = h - (input.note ? 30 : 14);
  body.push(
    `<text x="${w - m.right}" y="${base - 18}" text-anchor="end" font-size="11">${esc(input.xLabel)}</text>`,
    legend(names, m.left, base, dashed),
  );
  if (input.note)
    body.push(`<text x="${m.left}" y="${h - 8}" font-size="11" fill="#555">${esc(input.note)}</text>`);
  return document(w, h, input.title, body);
}
