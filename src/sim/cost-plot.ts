/**
 * A cost report as an SVG line chart (`tessera sim --plot FILE.svg`). PURE and deterministic:
 * the same report gives the same bytes. Top: the CPU the demand asks for against the CPU of the
 * nodes up, one line per strategy; bottom: what each has spent so far. Hand-written SVG: a line
 * chart needs no library.
 */
import type { CostSample } from "./cost-lifecycle-run.js";
import { type CostReport, showCost } from "./cost-run.js";

const WIDTH = 960;
const PANEL = 260;
const LEFT = 70;
const RIGHT = 180;
const TOP = 40;
const GAP = 60;
/** Colour-blind-safe (Okabe–Ito), one per strategy, in rank order. */
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];
/** More points than this per line are thinned to the last of each run of samples: the file stays small, the shape the same. */
const MAX_POINTS = 2_000;

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fixed(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

/**
 * A line through (t, v). `step`: horizontal until the next sample, then vertical (what holds
 * between events: demand, nodes up); otherwise straight (cost, spent at a constant rate between events).
 */
function linePath(samples: readonly CostSample[], value: (s: CostSample) => number, x: (t: number) => number, y: (v: number) => number, step: boolean): string {
  const every = Math.max(1, Math.ceil(samples.length / MAX_POINTS));
  const kept = samples.filter((_, i) => i % every === 0 || i === samples.length - 1);
  let d = "";
  kept.forEach((s, i) => {
    d += i === 0 ? `M${fixed(x(s.at))},${fixed(y(value(s)))}` : step ? `H${fixed(x(s.at))}V${fixed(y(value(s)))}` : `L${fixed(x(s.at))},${fixed(y(value(s)))}`;
  });
  return d;
}

/** About five round steps from 0 to at least `max`. */
function ticks(max: number): number[] {
  const raw = Math.max(max, 1e-9) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}

/** Hours, or days for a run longer than two of them. */
function timeTicks(durationMs: number): Array<{ at: number; label: string }> {
  const day = 24 * 3_600_000;
  const unit = durationMs > 2 * day ? day : durationMs > 4 * 3_600_000 ? 3_600_000 * Math.ceil(durationMs / 3_600_000 / 8) : 600_000;
  const name = unit === day ? "d" : unit >= 3_600_000 ? "h" : "m";
  const per = unit === day ? day : unit >= 3_600_000 ? 3_600_000 : 60_000;
  return Array.from({ length: Math.floor(durationMs / unit) + 1 }, (_, i) => ({ at: i * unit, label: `${(i * unit) / per}${name}` }));
}

export function plotCost(report: CostReport): string {
  const plotW = WIDTH - LEFT - RIGHT;
  const height = TOP + 2 * PANEL + GAP + 50;
  const x = (t: number) => LEFT + (plotW * t) / Math.max(1, report.durationMs);
  const maxCores = Math.max(1, ...report.strategies.flatMap((r) => r.samples.map((s) => Math.max(s.demandCpu, s.capacityCpu) / 1000)));
  const maxCost = Math.max(0.01, ...report.strategies.map((r) => r.cost));
  const coreTicks = ticks(maxCores);
  const costTicks = ticks(maxCost);
  const topMax = coreTicks.at(-1)! < maxCores ? maxCores : coreTicks.at(-1)!;
  const costMax = costTicks.at(-1)! < maxCost ? maxCost : costTicks.at(-1)!;
  const yCores = (v: number) => TOP + PANEL - (PANEL * v) / topMax;
  const costTop = TOP + PANEL + GAP;
  const yCost = (v: number) => costTop + PANEL - (PANEL * v) / costMax;

  const out: string[] = [];
  const names = report.strategies.map((r) => r.name).join(", ");
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="title desc" font-family="sans-serif" font-size="12">`);
  out.push(`<title id="title">Demand against running capacity, and cost, per lifecycle strategy</title>`);
  out.push(
    `<desc id="desc">${escape(`Over ${report.durationMs / 3_600_000} simulated hours: the CPU cores the demand asks for (dashed) and the cores of the nodes up under each strategy (${names}), then the cost each has spent so far. ${report.summary}.`)}</desc>`,
  );
  out.push(`<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`);
  const axes = (top: number, label: string, tickValues: number[], y: (v: number) => number, show: (v: number) => string) => {
    out.push(`<text x="${LEFT}" y="${top - 10}" font-weight="bold">${escape(label)}</text>`);
    for (const v of tickValues) {
      out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${fixed(y(v))}" y2="${fixed(y(v))}" stroke="#e0e0e0"/>`);
      out.push(`<text x="${LEFT - 6}" y="${fixed(y(v) + 4)}" text-anchor="end">${escape(show(v))}</text>`);
    }
    for (const t of timeTicks(report.durationMs)) out.push(`<text x="${fixed(x(t.at))}" y="${top + PANEL + 16}" text-anchor="middle">${t.label}</text>`);
    out.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL}" fill="none" stroke="#808080"/>`);
  };
  axes(TOP, "CPU cores: demand (dashed) and nodes up", coreTicks, yCores, (v) => String(+v.toFixed(2)));
  axes(costTop, "Cost so far", costTicks, yCost, showCost);

  report.strategies.forEach((r, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    out.push(`<path d="${linePath(r.samples, (s) => s.capacityCpu / 1000, x, yCores, true)}" fill="none" stroke="${colour}" stroke-width="1.5"><title>${escape(r.name)}: cores up</title></path>`);
    out.push(`<path d="${linePath(r.samples, (s) => s.cost, x, yCost, false)}" fill="none" stroke="${colour}" stroke-width="1.5"><title>${escape(r.name)}: cost</title></path>`);
    const ly = TOP + 10 + i * 18;
    out.push(`<line x1="${LEFT + plotW + 16}" x2="${LEFT + plotW + 36}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${LEFT + plotW + 42}" y="${ly + 4}">${escape(`${r.rank}. ${r.name} (${showCost(r.cost)})`)}</text>`);
  });
  // Demand last, on top of the lines that follow it.
  const first = report.strategies[0];
  if (first !== undefined) {
    out.push(`<path d="${linePath(first.samples, (s) => s.demandCpu / 1000, x, yCores, true)}" fill="none" stroke="#000000" stroke-width="2" stroke-dasharray="6 4"><title>demand</title></path>`);
  }
  const ly = TOP + 10 + report.strategies.length * 18;
  out.push(`<line x1="${LEFT + plotW + 16}" x2="${LEFT + plotW + 36}" y1="${ly}" y2="${ly}" stroke="#000000" stroke-width="2" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${LEFT + plotW + 42}" y="${ly + 4}">demand</text>`);
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
