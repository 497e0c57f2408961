/**
 * Benchmark 11: `tessera sim` on a cost scenario (#21): a simulated week of a 1,000-node pool
 * under a daily demand curve, every lifecycle strategy, through the real reconciler. Used by
 * `make bench` (full size, several runs, medians) and by a smoke test (small).
 */
import { type CostReport, simulateCost } from "../../src/sim/cost-run.js";
import { formatDurationMs } from "../../src/core/model/duration.js";
import { type CostScenario, parseCostScenario } from "../../src/sim/cost-scenario.js";
import { cells, type Section, stats, verdict } from "./report.js";

const NODES = 1_000;
const DAYS = 7;
const GOAL_MS = 10_000;
/** Copies of 1000m on nodes of 4000m. */
const PER_NODE = 4;

/**
 * One pool of `nodes` nodes (every lifecycle applies: stoppable, with spot prices at 0.005
 * interruptions per node-hour) and one service whose daily curve peaks at what the pool holds:
 * a fifth of it at night, two peaks by day.
 */
export function costScenario(nodes: number, days: number): CostScenario {
  const peak = nodes * PER_NODE;
  const share = (f: number) => Math.round(peak * f);
  const r = parseCostScenario({
    pools: [{ name: "gp", count: nodes, cpu_millis: 4000, memory_mb: 8192, price_per_hour: 0.2, boot: "2m", stoppable: true, start: "20s", stopped_price_per_hour: 0.01, spot_price_per_hour: 0.06, spot_interruptions_per_hour: 0.005, idle_release: "10m" }],
    demand: [
      {
        workload: "web",
        resources: { cpu_millis: 1000, memory_mb: 1024 },
        daily: [
          { at: "0h", replicas: share(0.2) },
          { at: "6h", replicas: share(0.5) },
          { at: "9h", replicas: peak },
          { at: "12h", replicas: share(0.75) },
          { at: "14h", replicas: peak },
          { at: "18h", replicas: share(0.5) },
          { at: "22h", replicas: share(0.25) },
        ],
      },
    ],
    duration: `${days * 24}h`,
    seed: 7,
  });
  if ("problems" in r) throw new Error(`the benchmark's scenario is refused: ${JSON.stringify(r.problems)}`);
  return r.scenario;
}

/** Runs every strategy of the scenario once, timed as a whole and one by one. */
export function runCost(scenario: CostScenario): { ms: number; byStrategy: Record<string, number>; report: CostReport } {
  const byStrategy: Record<string, number> = {};
  for (const plan of scenario.plans) {
    const t0 = performance.now();
    simulateCost({ ...scenario, plans: [plan] });
    byStrategy[plan.name] = performance.now() - t0;
  }
  const t0 = performance.now();
  const report = simulateCost(scenario);
  return { ms: performance.now() - t0, byStrategy, report };
}

export async function benchCost(runs: number): Promise<Section> {
  const scenario = costScenario(NODES, DAYS);
  const totals: number[] = [];
  const per: Record<string, number[]> = {};
  let report: CostReport | undefined;
  for (let r = 0; r < runs; r++) {
    const run = runCost(scenario);
    totals.push(run.ms);
    for (const [name, ms] of Object.entries(run.byStrategy)) (per[name] ??= []).push(ms);
    report = run.report;
    console.log(`run ${r + 1}/${runs}: every strategy ${run.ms.toFixed(0)} ms (${Object.entries(run.byStrategy).map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`).join(", ")})`);
  }
  const total = stats(totals);
  const strategies = report!.strategies;
  const rows = strategies.map((s) => `| ${s.name} | ${cells(stats(per[s.name]!), "ms")} | ${s.cost.toFixed(2)} | ${formatDurationMs(s.waitMs.p95, "rounded")} | ${s.boots} | ${s.interruptions} | |`).join("\n");
  return {
    name: "cost",
    order: 11,
    results: { fleet: { nodes: NODES, days: DAYS, peakReplicas: report!.peakReplicas }, goalMs: GOAL_MS, totalMs: total, byStrategyMs: Object.fromEntries(Object.entries(per).map(([n, xs]) => [n, stats(xs)])), report: { ...report!, strategies: strategies.map(({ samples: _s, ...s }) => s) } },
    markdown: `## 11. Cost planning: \`tessera sim\`, a week of ${NODES.toLocaleString("en")} nodes under a daily demand curve

Every lifecycle strategy on one pool of ${NODES.toLocaleString("en")} nodes (4 copies each), a daily curve from a fifth of the pool at night to all of it at two peaks, spot nodes interrupted at 0.005 per node-hour; the real reconciler in event-driven simulated time.

| run | median | min | max | cost | p95 wait | boots | interruptions | goal |
|---|---|---|---|---|---|---|---|---|
| every strategy (the report) | ${cells(total, "ms")} | | | | | ≤ ${GOAL_MS} ms ${verdict(total.median <= GOAL_MS)} |
${rows}`,
  };
}
