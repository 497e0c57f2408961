/**
 * What every benchmark returns, and the statistics they share: medians over several runs with
 * min and max, since absolute times on shared machines are noisy and only ratios measured in
 * the same run compare fairly.
 */
import { readFileSync } from "node:fs";

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** One benchmark's result: raw numbers (bench-results/<name>.json) and its BENCHMARKS.md section. */
export interface Section {
  name: string;
  /** Order in BENCHMARKS.md (the numbering). */
  order: number;
  results: unknown;
  markdown: string;
}

/** A /proc/PID/status memory field in MiB: VmRSS = RssAnon (heaps) + RssFile (the binary's pages in use) + RssShmem. */
export function statusMib(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) / 1024;
}

/** CPU time a process has used so far (user + system), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): state is [0], utime [11], stime [12].
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

export const CLOCK_TICKS_PER_S = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim());

export function stats(xs: number[]): Stats {
  if (xs.length === 0) throw new Error("no samples");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median: round(median), min: round(s[0]!), max: round(s[s.length - 1]!), runs: s.length };
}

export { percentile } from "../../src/sim/percentile.js";

export function round(x: number, digits = 2): number {
  return +x.toFixed(digits);
}

/** `| label | median | min | max |` cells of a Stats, with a unit. */
export function cells(s: Stats, unit: string): string {
  return `${s.median} ${unit} | ${s.min} ${unit} | ${s.max} ${unit}`;
}

export function verdict(ok: boolean): string {
  return ok ? "✅" : "❌";
}
