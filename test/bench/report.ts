/**
 * What every benchmark returns, and the statistics they share: medians over several runs with
 * min and max, since absolute times on shared machines are noisy and only ratios measured in
 * the same run compare fairly.
 */
import { readdirSync, readFileSync } from "node:fs";

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
/** A process's /proc stat fields after its command name (which may hold spaces): state is [0], ppid [1], utime [11], stime [12], cutime [13], cstime [14]. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

export function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * The CPU a server of processes has used, in clock ticks: its parent's own, its ended children's
 * (counted to the parent when it reaps them) and its running children's. PostgreSQL's postmaster
 * and the backends serving its connections, say.
 */
export function cpuTicksWithChildren(parent: number): number {
  const own = statFields(parent);
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let fields: string[];
    try {
      fields = statFields(pid);
    } catch {
      continue; // it ended meanwhile (and its time went to its parent)
    }
    if (Number(fields[1]) === parent) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
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
