/**
 * The planner benchmark: one plan() pass over a large fleet, built deterministically.
 * Used by `make bench` (full size, several runs, medians) and by a smoke test (small).
 */
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { evolve } from "../../src/core/events/evolve.js";
import { type ClusterState, emptyState } from "../../src/core/model/cluster-state.js";
import { holdsNode } from "../../src/core/model/cluster-status.js";
import { DEFAULT_PORT_RANGE } from "../../src/core/model/ports.js";
import { planToEvents } from "../../src/core/reconcile/plan-to-events.js";
import { DEFAULT_POLICY, isEmptyPlan, type Plan, plan } from "../../src/core/reconcile/reconcile.js";
import { seededRandom } from "../../src/sim/seeded-random.js";
import type { Placement } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

const ZONES = ["a", "b", "c", "d"];

/** One-replica workloads `w-<from>`… asking `cpuMillis` each (and one dynamic port if `withPorts`), a tenth pinned to a zone. */
function workloadEvents(from: number, count: number, cpuMillis: number, now: number, rand: () => number, withPorts = false, placement?: Placement): ClusterEvent[] {
  return Array.from({ length: count }, (_, k) => {
    const pinned = rand() < 0.1;
    return {
      type: "WorkloadApplied",
      at: now,
      workload: {
        name: `w-${from + k}`,
        labels: {},
        spec: spec({
          replicas: 1,
          resources: { cpuMillis, memoryMb: 64 },
          nodeSelector: pinned ? { zone: ZONES[Math.floor(rand() * 4)]! } : {},
          ports: withPorts ? [{ name: "http", protocol: "tcp" }] : [],
          ...(placement ? { placement } : {}),
        }),
        generation: 1,
        templateGeneration: 1,
      },
    };
  });
}

/**
 * `nodes` nodes of `nodeCpuMillis` in 4 zones and `workloads` one-replica workloads of 100m, a
 * tenth pinned to a zone. With `withPorts`, every node advertises an address and the default
 * dynamic range and every workload asks for one dynamic port. With `placement`, every workload
 * has those rules of its own (spec.placement).
 */
export function buildFleet(nodes: number, workloads: number, now: number, seed = 7, nodeCpuMillis = 64_000, withPorts = false, placement?: Placement): ClusterState {
  const rand = seededRandom(seed);
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
      capacity: { cpuMillis: nodeCpuMillis, memoryMb: 262_144 },
      ...(withPorts ? { ports: { address: `10.0.${i >> 8}.${i & 255}`, range: DEFAULT_PORT_RANGE, reserved: [] } } : {}),
    });
  }
  events.push(...workloadEvents(0, workloads, 100, now, rand, withPorts, placement));
  for (const e of events) evolve(state, e);
  return state;
}

export interface PlannerRun {
  placeMs: number;
  steadyMs: number;
  placed: number;
}

/**
 * Times one pass, commits it, and times the pass after it, which must be empty (what the
 * first placed is kept; what it could not place stays pending): `what` names the fleet.
 */
function timeTwoPasses(state: ClusterState, now: number, what: string): { first: Plan; firstMs: number; secondMs: number } {
  const t0 = performance.now();
  const first = plan(state, now, DEFAULT_POLICY);
  const firstMs = performance.now() - t0;
  for (const e of planToEvents(state, first).events) evolve(state, e);
  const t1 = performance.now();
  const again = plan(state, now, DEFAULT_POLICY);
  const secondMs = performance.now() - t1;
  if (!isEmptyPlan(again)) throw new Error(`planning again ${what} was not empty`);
  return { first, firstMs, secondMs };
}

/** Times one placing pass, commits it, and times the (empty) pass after it. */
export function runPlanner(state: ClusterState, now: number): PlannerRun {
  const { first, firstMs, secondMs } = timeTwoPasses(state, now, "after committing");
  return { placeMs: firstMs, steadyMs: secondMs, placed: first.place.length };
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

/** Node size of the nearly full fleet: ten copies of 100m fill a node. */
const FULL_NODE_CPU = 1_000;
/** Copies of 100m per node before the timed pass: 90% of the fleet's CPU. */
const FULL_COPIES_PER_NODE = 9;

export interface NearlyFullRun {
  /** The pass over a fleet 90% allocated: one new workload per node, a tenth too large to fit anywhere. */
  placeMs: number;
  /** The next pass: nothing new, the workloads that fit nowhere tried again. */
  retryMs: number;
  placed: number;
  pending: number;
  /** Share of the fleet's CPU allocated before the timed pass. */
  allocatedBefore: number;
}

/**
 * A fleet of `nodes` nodes 90% allocated (copies placed and committed untimed), then one new
 * workload per node: nine in ten ask 100m, which fits only in the room left, found past full
 * nodes; one in ten asks 200m, which only the few nodes the spread left less full have, so for
 * most of those every node is looked at and then scanned again to say why none fits
 * (placement's fallback). Times that pass and the one after it, which tries them again.
 */
export function runNearlyFull(nodes: number, now: number): NearlyFullRun {
  const state = buildFleet(nodes, nodes * FULL_COPIES_PER_NODE, now, 7, FULL_NODE_CPU);
  for (const e of planToEvents(state, plan(state, now, DEFAULT_POLICY)).events) evolve(state, e);
  let used = 0;
  for (const i of state.instances.values()) if (i.node && holdsNode(i)) used += i.resources.cpuMillis;
  const allocatedBefore = used / (nodes * FULL_NODE_CPU);
  const rand = seededRandom(11);
  const fresh = nodes * FULL_COPIES_PER_NODE;
  for (let k = 0; k < nodes; k++) for (const e of workloadEvents(fresh + k, 1, k % 10 === 9 ? 200 : 100, now, rand)) evolve(state, e);
  const { first, firstMs, secondMs } = timeTwoPasses(state, now, "on the nearly full fleet");
  return { placeMs: firstMs, retryMs: secondMs, placed: first.place.length, pending: first.pend.length, allocatedBefore };
}

const NODES = 10_000;
const WORKLOADS = 100_000;
const GOAL_MS = 1_000;
/** The goal of a placing pass where every workload has placement rules of its own (issue 32). */
const RULES_GOAL_MS = 1_500;

/** The workload rules the planner is timed with: a hard spread over the zones, and one copy per node. */
export const BENCH_RULES: Record<"spread" | "maxPerNode", Placement> = {
  spread: { maxPerNode: 0, spread: [{ label: "zone", weight: 0, targets: [], whenUnsatisfiable: 2 }], affinity: [] },
  maxPerNode: { maxPerNode: 1, spread: [], affinity: [] },
};

/** Benchmark 4: one pass for 100,000 workloads on 10,000 nodes. */
export async function benchPlanner(runs: number): Promise<Section> {
  const place: number[] = [];
  const steady: number[] = [];
  const base: number[] = [];
  const full: NearlyFullRun[] = [];
  const ported: PlannerRun[] = [];
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
  // The same fleet with one dynamic port per workload, before the nearly full fleet: this row
  // has a goal, so it should not run on the heap that one leaves (1028 ms after it, 832 ms before).
  for (let r = 0; r < runs; r++) {
    const now = 1_000_000;
    const run = runPlanner(buildFleet(NODES, WORKLOADS, now, 7, 64_000, true), now);
    if (run.placed !== WORKLOADS) throw new Error(`with ports, placed ${run.placed} of ${WORKLOADS}`);
    ported.push(run);
    console.log(`with ports, run ${r + 1}/${runs}: placing pass ${run.placeMs.toFixed(1)} ms, steady pass ${run.steadyMs.toFixed(1)} ms`);
  }
  // Every workload with rules of its own: a hard zone spread, then maxPerNode 1.
  const ruled = { spread: [] as PlannerRun[], maxPerNode: [] as PlannerRun[] };
  for (const kind of ["spread", "maxPerNode"] as const) {
    for (let r = 0; r < runs; r++) {
      const now = 1_000_000;
      const run = runPlanner(buildFleet(NODES, WORKLOADS, now, 7, 64_000, false, BENCH_RULES[kind]), now);
      if (run.placed !== WORKLOADS) throw new Error(`with ${kind}, placed ${run.placed} of ${WORKLOADS}`);
      ruled[kind].push(run);
      console.log(`with ${kind}, run ${r + 1}/${runs}: placing pass ${run.placeMs.toFixed(1)} ms, steady pass ${run.steadyMs.toFixed(1)} ms`);
    }
  }
  // After every run of the fleets above, so its passes never run on the heap these leave.
  for (let r = 0; r < runs; r++) {
    const f = runNearlyFull(NODES, 1_000_000);
    full.push(f);
    console.log(`nearly full, run ${r + 1}/${runs}: ${f.placeMs.toFixed(1)} ms (${f.placed} placed, ${f.pending} pending), next pass ${f.retryMs.toFixed(1)} ms`);
  }
  const p = {
    placingPassMs: stats(place),
    portsPlacingPassMs: stats(ported.map((r) => r.placeMs)),
    portsSteadyPassMs: stats(ported.map((r) => r.steadyMs)),
    steadyPassMs: stats(steady),
    spreadPlacingPassMs: stats(ruled.spread.map((r) => r.placeMs)),
    maxPerNodePlacingPassMs: stats(ruled.maxPerNode.map((r) => r.placeMs)),
    baselineVisitMs: stats(base),
    nearlyFullPassMs: stats(full.map((f) => f.placeMs)),
    nearlyFullRetryMs: stats(full.map((f) => f.retryMs)),
  };
  const { placed, pending, allocatedBefore } = full[0]!;
  const ratio = (x: number) => (p.baselineVisitMs.median > 0 ? String(round(x / p.baselineVisitMs.median, 0)) : "n/a");
  return {
    name: "planner",
    order: 4,
    results: { fleet: { nodes: NODES, workloads: WORKLOADS }, goalMs: GOAL_MS, ...p, nearlyFull: full },
    markdown: `## 4. Planner: one plan() pass, ${NODES.toLocaleString("en")} nodes, ${WORKLOADS.toLocaleString("en")} workloads

| pass | median | min | max | × baseline | goal |
|---|---|---|---|---|---|
| placing every workload | ${cells(p.placingPassMs, "ms")} | ${ratio(p.placingPassMs.median)} | ≤ ${GOAL_MS} ms ${verdict(p.placingPassMs.median <= GOAL_MS)} |
| steady state (converged) | ${cells(p.steadyPassMs, "ms")} | ${ratio(p.steadyPassMs.median)} | |
| placing every workload, one dynamic port each | ${cells(p.portsPlacingPassMs, "ms")} | ${ratio(p.portsPlacingPassMs.median)} | ≤ ${GOAL_MS} ms ${verdict(p.portsPlacingPassMs.median <= GOAL_MS)} |
| steady state with those ports | ${cells(p.portsSteadyPassMs, "ms")} | ${ratio(p.portsSteadyPassMs.median)} | |
| placing every workload, each with a hard zone spread | ${cells(p.spreadPlacingPassMs, "ms")} | ${ratio(p.spreadPlacingPassMs.median)} | ≤ ${RULES_GOAL_MS} ms ${verdict(p.spreadPlacingPassMs.median <= RULES_GOAL_MS)} |
| placing every workload, each with maxPerNode 1 | ${cells(p.maxPerNodePlacingPassMs, "ms")} | ${ratio(p.maxPerNodePlacingPassMs.median)} | ≤ ${RULES_GOAL_MS} ms ${verdict(p.maxPerNodePlacingPassMs.median <= RULES_GOAL_MS)} |
| nearly full fleet: one new workload per node | ${cells(p.nearlyFullPassMs, "ms")} | ${ratio(p.nearlyFullPassMs.median)} | |
| nearly full fleet: the next pass, ${pending.toLocaleString("en")} still fitting nowhere | ${cells(p.nearlyFullRetryMs, "ms")} | ${ratio(p.nearlyFullRetryMs.median)} | |
| baseline: visit every workload and node | ${cells(p.baselineVisitMs, "ms")} | 1 | |

The placing pass scores at most 64 feasible nodes per placement (a rotating cursor, like
Nomad's limit iterator), so it grows with workloads, not workloads × nodes.

With rules: the same fleet, every workload with a spread over the zones that waits rather than
unbalance (\`whenUnsatisfiable: wait\`), or with \`maxPerNode: 1\`; both count the workload's copies
per node and per zone from an index kept through the pass.

With ports: the same fleet, but every node advertises an address and the dynamic range
${DEFAULT_PORT_RANGE.from}-${DEFAULT_PORT_RANGE.to} and every workload asks for one dynamic tcp port, so each placement also checks
the node has a free port and takes the lowest one.

The nearly full fleet: ${NODES.toLocaleString("en")} nodes again, with ${FULL_NODE_CPU}m of CPU each, ${round(allocatedBefore * 100, 1)}% allocated by
${(NODES * FULL_COPIES_PER_NODE).toLocaleString("en")} copies of 100m (placed untimed), then ${NODES.toLocaleString("en")} new one-replica workloads: nine in ten ask
100m, which fits only in the room left, found past full nodes; one in ten asks 200m, which only
the few nodes the spread left less full have (${placed.toLocaleString("en")} placed, ${pending.toLocaleString("en")} left Pending). For each workload
that fits nowhere every node is looked at, then scanned again to count why none fits; every
later pass tries them again, as the second row shows. It too holds ${WORKLOADS.toLocaleString("en")} workloads, so the
baseline visit is the same.
`,
  };
}
