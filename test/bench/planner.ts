/**
 * The planner benchmark: one plan() pass over a large fleet, built deterministically.
 * Used by `make bench` (full size, several runs, medians) and by a smoke test (small).
 */
import { type ClusterEvent, type ClusterState, emptyState, evolve } from "../../src/core/model.js";
import { commitPlan, DEFAULT_POLICY, isEmptyPlan, plan } from "../../src/core/reconcile.js";
import { spec } from "../core/fixtures.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

/** mulberry32: a small seeded PRNG, so every run builds the same fleet. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = ["a", "b", "c", "d"];

/** `nodes` nodes in 4 zones and `workloads` one-replica workloads, a tenth pinned to a zone. */
export function buildFleet(nodes: number, workloads: number, now: number, seed = 7): ClusterState {
  const rand = prng(seed);
  const state = emptyState();
  const events: ClusterEvent[] = [];
  for (let i = 0; i < nodes; i++) {
    events.push({
      type: "NodeConnected",
      at: now,
      name: `node-${String(i).padStart(5, "0")}`,
      session: i + 1,
      executors: ["process", "docker"],
      version: "bench",
      labels: { zone: ZONES[i % ZONES.length]! },
      capacity: { cpuMillis: 64_000, memoryMb: 262_144 },
    });
  }
  for (let i = 0; i < workloads; i++) {
    const pinned = rand() < 0.1;
    events.push({
      type: "WorkloadApplied",
      at: now,
      workload: {
        name: `w-${i}`,
        labels: {},
        spec: spec({ replicas: 1, resources: { cpuMillis: 100, memoryMb: 64 }, nodeSelector: pinned ? { zone: ZONES[Math.floor(rand() * 4)]! } : {} }),
        generation: 1,
        templateGeneration: 1,
      },
    });
  }
  for (const e of events) evolve(state, e);
  return state;
}

export interface PlannerRun {
  placeMs: number;
  steadyMs: number;
  placed: number;
}

/** Times one placing pass, commits it, and times the (empty) pass after it. */
export function runPlanner(state: ClusterState, now: number): PlannerRun {
  const t0 = performance.now();
  const p = plan(state, now, DEFAULT_POLICY);
  const placeMs = performance.now() - t0;
  for (const e of commitPlan(state, p).events) evolve(state, e);
  const t1 = performance.now();
  const again = plan(state, now, DEFAULT_POLICY);
  const steadyMs = performance.now() - t1;
  if (!isEmptyPlan(again)) throw new Error("planning again after committing was not empty");
  return { placeMs, steadyMs, placed: p.place.length };
}

/** A plain pass over every workload and node: the floor the planner is compared with. */
export function baselineMs(state: ClusterState): number {
  const t0 = performance.now();
  let n = 0;
  for (const w of state.workloads.values()) n += w.name.length;
  for (const node of state.nodes.values()) n += node.name.length;
  if (n < 0) throw new Error("unreachable");
  return performance.now() - t0;
}

const NODES = 10_000;
const WORKLOADS = 100_000;
const GOAL_MS = 1_000;

/** Benchmark 4: one pass for 100,000 workloads on 10,000 nodes. */
export async function benchPlanner(runs: number): Promise<Section> {
  const place: number[] = [];
  const steady: number[] = [];
  const base: number[] = [];
  for (let r = 0; r < runs; r++) {
    const now = 1_000_000;
    const state = buildFleet(NODES, WORKLOADS, now);
    base.push(baselineMs(state));
    const run = runPlanner(state, now);
    if (run.placed !== WORKLOADS) throw new Error(`placed ${run.placed} of ${WORKLOADS}`);
    place.push(run.placeMs);
    steady.push(run.steadyMs);
    console.log(`run ${r + 1}/${runs}: placing pass ${run.placeMs.toFixed(1)} ms, steady pass ${run.steadyMs.toFixed(1)} ms`);
  }
  const p = { placingPassMs: stats(place), steadyPassMs: stats(steady), baselineVisitMs: stats(base) };
  const ratio = (x: number) => (p.baselineVisitMs.median > 0 ? String(round(x / p.baselineVisitMs.median, 0)) : "n/a");
  return {
    name: "planner",
    order: 4,
    results: { fleet: { nodes: NODES, workloads: WORKLOADS }, goalMs: GOAL_MS, ...p },
    markdown: `## 4. Planner: one plan() pass, ${NODES.toLocaleString("en")} nodes, ${WORKLOADS.toLocaleString("en")} workloads

| pass | median | min | max | × baseline | goal |
|---|---|---|---|---|---|
| placing every workload | ${cells(p.placingPassMs, "ms")} | ${ratio(p.placingPassMs.median)} | ≤ ${GOAL_MS} ms ${verdict(p.placingPassMs.median <= GOAL_MS)} |
| steady state (converged) | ${cells(p.steadyPassMs, "ms")} | ${ratio(p.steadyPassMs.median)} | |
| baseline: visit every workload and node | ${cells(p.baselineVisitMs, "ms")} | 1 | |

The placing pass scores at most 64 feasible nodes per placement (a rotating cursor, like
Nomad's limit iterator), so it grows with workloads, not workloads × nodes.
`,
  };
}
