/**
 * `tessera sim`: compare placement strategies on a simulated fleet, or node pools' lifecycle
 * strategies by cost and wait against a demand forecast; offline (no control plane).
 */
import { writeFileSync } from "node:fs";
import { Command, Option } from "clipanion";
import { oneOf } from "./argv.js";
import { TesseraCommand } from "./base.js";
import { InputError } from "./errors.js";
import { parseDocument, readInput } from "./manifest.js";
import { renderTable } from "./table.js";
import { plotCost } from "../src/sim/cost-plot.js";
import { type CostReport, showCost, simulateCost } from "../src/sim/cost-run.js";
import { isCostScenario, parseCostScenario } from "../src/sim/cost-scenario.js";
import { formatDurationMs } from "../src/core/model/duration.js";
import { type PlacementStrategy, PLACEMENT_STRATEGIES } from "../src/core/reconcile/placement.js";
import { describeRejection } from "../src/core/model/rejections.js";
import { simulate, type SimReport } from "../src/sim/sim-run.js";
import { parseScenario } from "../src/sim/sim-scenario.js";
import { cronNext } from "../src/control/writer/cron.js";

const OUTPUTS = ["table", "json"] as const;

export class SimCommand extends TesseraCommand {
  static paths = [["sim"]];
  static usage = Command.Usage({
    category: "Tools",
    description: "simulate a fleet under each placement strategy, or node pools under each lifecycle strategy against a demand forecast, and rank them",
    details:
      "Reads a scenario (JSON or YAML): `fleet` (node groups: name, count, cpu_millis, memory_mb, labels), `workloads` (name, count, kind, replicas, completions, parallelism, resources, node_selector, update, placement: max_per_node, spread with label, weight, targets and when_unsatisfiable, affinity with label, value and weight), `failures` (at a time: kill or restore nodes by name or a count of a group, crash a replica, or roll out a new version of a service, optionally `fails: true`, under its `update`: max_surge, max_unavailable, canary, auto_promote, min_healthy_time, auto_revert, progress_deadline) and an optional `duration` (default: 60s after the last failure). Each strategy runs through the real reconciler in simulated time, offline, and reports where workloads' copies depart from their own placement rules. Strategies are ranked by fewest unschedulable replicas, then fastest convergence, then fewest reschedules, then most empty nodes. Killing a count of a group kills its busiest nodes.\n\nA cost scenario instead has `pools` (name, count, cpu_millis, memory_mb, labels, price_per_hour, boot, stoppable with start and stopped_price_per_hour, spot_price_per_hour, spot_interruptions_per_hour, idle_release, baseline) and `demand` (workload, resources, node_selector, and a `series` or a `daily` curve of {at, replicas}), with optional `duration` (default 168h), `seed`, `objective` (cheapest-within-wait, cheapest or fastest), `max_p95_wait` (default 5m) and `strategies` (combinations: a lifecycle per pool; default: each of always-on, scale-to-fit, stopped-pool, spot and hybrid on every pool that supports it). Each runs through the real reconciler in event-driven simulated time and reports cost, the wait from demand to Running (p50, p95, max), replica-minutes unschedulable, boots, interruptions, reschedules and utilization; `--plot` draws demand against capacity and cost over time as SVG.",
    examples: [
      ["Compare spread and binpack", "tessera sim -f examples/sim-fleet.yaml"],
      ["The full report as JSON", "tessera sim -f examples/sim-fleet.yaml -o json"],
      ["Only binpack", "tessera sim -f examples/sim-fleet.yaml --strategy binpack"],
      ["Rank lifecycle strategies by cost and wait, with a plot", "tessera sim -f examples/cost-bursty.yaml --plot cost.svg"],
    ],
  });
  file = Option.String("-f,--file", { required: true, description: "scenario file (JSON or YAML), or - for stdin" });
  output = Option.String("-o,--output", "table", { description: "table or json (the full report)" });
  strategies = Option.Array("--strategy", { description: `a placement strategy to simulate (${PLACEMENT_STRATEGIES.join(", ")}); repeat for several (default: all)` });
  plot = Option.String("--plot", { description: "cost scenarios: write demand against capacity and cost over time, per strategy, to this SVG file" });

  async run(): Promise<number> {
    const format = oneOf(this.output, "-o", OUTPUTS);
    const strategies: PlacementStrategy[] = [];
    for (const s of this.strategies ?? PLACEMENT_STRATEGIES) {
      const known = oneOf(s, "--strategy", PLACEMENT_STRATEGIES);
      if (!strategies.includes(known)) strategies.push(known);
    }
    const input = await readInput(this.file);
    const doc = parseDocument(input.text, input.source, input.format);
    if (isCostScenario(doc)) {
      if (this.strategies !== undefined) throw new InputError("--strategy: placement strategies are for placement scenarios; a cost scenario lists its combinations under `strategies`");
      const cost = parseCostScenario(doc);
      if ("problems" in cost) throw new InputError(cost.problems.map((p) => `${input.source}: ${describeRejection(p)}`).join("\n"));
      const report = simulateCost(cost.scenario);
      if (this.plot !== undefined) writeFileSync(this.plot, plotCost(report));
      this.out(format === "json" ? JSON.stringify(report, null, 2) : renderCostReport(report));
      return 0;
    }
    if (this.plot !== undefined) throw new InputError("--plot: plots are drawn for cost scenarios (with pools and demand)");
    const parsed = parseScenario(doc);
    if ("problems" in parsed) throw new InputError(parsed.problems.map((p) => `${input.source}: ${describeRejection(p)}`).join("\n"));
    const report = simulate(parsed.scenario, strategies, cronNext);
    this.out(format === "json" ? JSON.stringify(report, null, 2) : renderReport(report));
    return 0;
  }
}

function renderReport(report: SimReport): string {
  const failures = report.strategies[0]!.convergence.length > 1;
  const rows = report.strategies.map((r) => {
    const u = r.utilization;
    return [
      String(r.rank),
      r.strategy,
      `${r.placed}/${r.desired}`,
      String(r.unschedulable),
      String(r.reschedules),
      formatDurationMs(r.convergence[0]!.ms, "rounded"),
      failures ? formatDurationMs(Math.max(...r.convergence.slice(1).map((c) => c.ms ?? Number.POSITIVE_INFINITY)), "rounded") : "-",
      `${u.nodesUsed}/${u.nodesUsed + u.emptyNodes}`,
      String(u.emptyNodes),
      `${u.cpuPercent.mean}%/${u.cpuPercent.max}%`,
      `${u.memoryPercent.mean}%/${u.memoryPercent.max}%`,
    ];
  });
  const lines = [
    `${report.nodes} nodes, ${report.desiredReplicas} replicas, ${formatDurationMs(report.durationMs, "rounded")} simulated`,
    renderTable(["RANK", "STRATEGY", "PLACED", "UNSCHEDULABLE", "RESCHEDULES", "START", "RECOVERY", "NODES USED", "EMPTY", "CPU MEAN/MAX", "MEMORY MEAN/MAX"], rows),
  ];
  for (const r of report.strategies) for (const p of r.pending) lines.push(`${r.strategy}: ${p.workload} ×${p.replicas} pending: ${p.reason}`);
  for (const r of report.strategies) for (const v of r.violations) lines.push(`${r.strategy}: ${v.workload} departs from ${v.rule}: ${v.detail}`);
  for (const r of report.strategies) {
    for (const ro of r.rollouts) lines.push(`${r.strategy}: rollout of ${ro.workload} at ${formatDurationMs(ro.at, "rounded")}: ${ro.outcome}${ro.ms === null ? "" : ` in ${formatDurationMs(ro.ms, "rounded")}`}`);
  }
  lines.push(report.summary);
  return lines.join("\n");
}

function renderCostReport(report: CostReport): string {
  const rows = report.strategies.map((r) => [
    String(r.rank),
    r.name,
    showCost(r.cost),
    formatDurationMs(r.waitMs.p50, "rounded"),
    formatDurationMs(r.waitMs.p95, "rounded"),
    formatDurationMs(r.waitMs.max, "rounded"),
    String(r.unschedulableReplicaMinutes),
    String(r.boots),
    String(r.interruptions),
    String(r.reschedules),
    `${r.utilizationPercent}%`,
  ]);
  const bound = report.objective === "cheapest-within-wait" ? `, p95 wait bound ${formatDurationMs(report.maxP95WaitMs, "rounded")}` : "";
  return [
    `${report.nodes} nodes at most, ${report.peakReplicas} replicas at peak, ${formatDurationMs(report.durationMs)} simulated; ranked by ${report.objective}${bound}`,
    renderTable(["RANK", "STRATEGY", "COST", "WAIT P50", "WAIT P95", "WAIT MAX", "UNSCHEDULABLE REPLICA-MIN", "BOOTS", "INTERRUPTIONS", "RESCHEDULES", "UTILIZATION"], rows),
    report.summary,
  ].join("\n");
}
