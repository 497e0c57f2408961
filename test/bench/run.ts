/**
 * `make bench`: runs the benchmarks and writes BENCHMARKS.md and bench-results/*.json.
 * Medians over several runs, min and max, and ratios against a baseline measured in the
 * same run (absolute times on shared machines are noisy).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { baselineMs, buildFleet, runPlanner } from "./planner.js";

const ROOT = join(import.meta.dir, "..", "..");
const RUNS = Number(process.env.TESSERA_BENCH_RUNS ?? 5);
const NODES = 10_000;
const WORKLOADS = 100_000;

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median: +median.toFixed(2), min: +s[0]!.toFixed(2), max: +s[s.length - 1]!.toFixed(2), runs: s.length };
}

const place: number[] = [];
const steady: number[] = [];
const base: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const now = 1_000_000;
  const state = buildFleet(NODES, WORKLOADS, now);
  base.push(baselineMs(state));
  const run = runPlanner(state, now);
  if (run.placed !== WORKLOADS) throw new Error(`placed ${run.placed} of ${WORKLOADS}`);
  place.push(run.placeMs);
  steady.push(run.steadyMs);
  console.log(`run ${r + 1}/${RUNS}: placing pass ${run.placeMs.toFixed(1)} ms, steady pass ${run.steadyMs.toFixed(1)} ms`);
}

const results = {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), bun: Bun.version },
  planner: {
    fleet: { nodes: NODES, workloads: WORKLOADS },
    placingPassMs: stats(place),
    steadyPassMs: stats(steady),
    baselineVisitMs: stats(base),
    goalMs: 1000,
  },
};
mkdirSync(join(ROOT, "bench-results"), { recursive: true });
writeFileSync(join(ROOT, "bench-results", "planner.json"), `${JSON.stringify(results, null, 2)}\n`);
const p = results.planner;
const ratio = (x: number) => (p.baselineVisitMs.median > 0 ? (x / p.baselineVisitMs.median).toFixed(0) : "n/a");
const md = `# Benchmarks

Written by \`make bench\` (raw numbers: bench-results/*.json). Medians of ${RUNS} runs, with
min and max; ratios are against a baseline measured in the same run, since absolute times on
shared machines are noisy.

Machine: ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.memoryGiB} GiB, Bun ${results.machine.bun}.

## Planner: one plan() pass, ${NODES.toLocaleString("en")} nodes, ${WORKLOADS.toLocaleString("en")} workloads

| pass | median | min | max | × baseline | goal |
|---|---|---|---|---|---|
| placing every workload | ${p.placingPassMs.median} ms | ${p.placingPassMs.min} ms | ${p.placingPassMs.max} ms | ${ratio(p.placingPassMs.median)} | ≤ 1000 ms ${p.placingPassMs.median <= 1000 ? "✅" : "❌"} |
| steady state (converged) | ${p.steadyPassMs.median} ms | ${p.steadyPassMs.min} ms | ${p.steadyPassMs.max} ms | ${ratio(p.steadyPassMs.median)} | |
| baseline: visit every workload and node | ${p.baselineVisitMs.median} ms | ${p.baselineVisitMs.min} ms | ${p.baselineVisitMs.max} ms | 1 | |

The placing pass scores at most 64 feasible nodes per placement (a rotating cursor, like
Nomad's limit iterator), so it grows with workloads, not workloads × nodes.
`;
writeFileSync(join(ROOT, "BENCHMARKS.md"), md);
console.log(md);
