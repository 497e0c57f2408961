/**
 * Runs a cost scenario once per lifecycle combination and ranks them by the scenario's
 * objective: what a fleet kept that way costs, and how long copies wait for a node. PURE and
 * deterministic: the same scenario (its seed included) gives the same report.
 *
 * Each combination runs through the real reconciler in event-driven simulated time
 * (cost-lifecycle-run.ts).
 */
import { formatDurationMs } from "../core/model/duration.js";
import { type LifecycleReport, runLifecycles } from "./cost-lifecycle-run.js";
import { type CostScenario, type Demand, type Objective, replicasAt } from "./cost-scenario.js";

export interface CostReport {
  durationMs: number;
  /** Nodes the pools may hold in all. */
  nodes: number;
  peakReplicas: number;
  objective: Objective;
  maxP95WaitMs: number;
  strategies: LifecycleReport[];
  summary: string;
}

/** Runs every combination of the scenario and ranks them. */
export function simulateCost(scenario: CostScenario): CostReport {
  const runs = scenario.plans.map((p) => runLifecycles(scenario, p));
  const order = (r: LifecycleReport) => scenario.plans.findIndex((p) => p.name === r.name);
  runs.sort((a, b) => compare(scenario, a, b) || order(a) - order(b));
  runs.forEach((r, i) => (r.rank = i + 1));
  return {
    durationMs: scenario.durationMs,
    nodes: scenario.pools.reduce((n, p) => n + p.count, 0),
    peakReplicas: peakReplicas(scenario.demand),
    objective: scenario.objective,
    maxP95WaitMs: scenario.maxP95WaitMs,
    strategies: runs,
    summary: describeTopTwo(scenario, runs),
  };
}

/** The objective's order: cheapest-within-wait puts the runs within the p95 bound first, cheapest first, then the rest fastest first. */
function compare(scenario: CostScenario, a: LifecycleReport, b: LifecycleReport): number {
  const byCost = a.cost - b.cost;
  const byP95 = a.waitMs.p95 - b.waitMs.p95;
  if (scenario.objective === "cheapest") return byCost || byP95;
  if (scenario.objective === "fastest") return byP95 || a.waitMs.max - b.waitMs.max || byCost;
  if (a.meetsWaitBound !== b.meetsWaitBound) return a.meetsWaitBound ? -1 : 1;
  return a.meetsWaitBound ? byCost || byP95 : byP95 || byCost;
}

/** 0.00, 12.34: prices are in whatever unit the scenario's are. */
export function showCost(cost: number): string {
  return cost.toFixed(2);
}

/** The first two runs by the scenario's objective, with their cost and p95 wait (and the wait bound, when it has one). */
function describeTopTwo(scenario: CostScenario, runs: LifecycleReport[]): string {
  const [first, second] = runs;
  if (first === undefined) return "no strategy simulated";
  const bound = scenario.objective === "cheapest-within-wait" ? ` (bound ${formatDurationMs(scenario.maxP95WaitMs, "rounded")}${first.meetsWaitBound ? "" : ", which none meets"})` : "";
  const line = `${first.name} ranks first by ${scenario.objective}: cost ${showCost(first.cost)}, p95 wait ${formatDurationMs(first.waitMs.p95, "rounded")}${bound}`;
  return second === undefined ? line : `${line}; next ${second.name}: cost ${showCost(second.cost)}, p95 wait ${formatDurationMs(second.waitMs.p95, "rounded")}`;
}

function peakReplicas(demand: readonly Demand[]): number {
  const times = [...new Set(demand.flatMap((d) => d.steps.map((s) => s.at)))];
  return Math.max(0, ...times.map((t) => demand.reduce((n, d) => n + replicasAt(d, t), 0)));
}
