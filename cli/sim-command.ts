/** `tessera sim`: compare placement strategies on a simulated fleet, offline (no control plane). */
import { Command, Option } from "clipanion";
import { oneOf } from "./argv.js";
import { TesseraCommand } from "./base.js";
import { InputError } from "./errors.js";
import { parseDocument, readInput } from "./manifest.js";
import { renderTable } from "./table.js";
import { type PlacementStrategy, PLACEMENT_STRATEGIES } from "../src/core/placement.js";
import { describeRejection } from "../src/core/rejections.js";
import { showMs, simulate, type SimReport } from "../src/core/sim-run.js";
import { parseScenario } from "../src/core/sim-scenario.js";

const OUTPUTS = ["table", "json"] as const;

export class SimCommand extends TesseraCommand {
  static paths = [["sim"]];
  static usage = Command.Usage({
    category: "Tools",
    description: "simulate a fleet, a workload mix and a failure schedule under each placement strategy, and rank them",
    details:
      "Reads a scenario (JSON or YAML): `fleet` (node groups: name, count, cpu_millis, memory_mb, labels), `workloads` (name, count, kind, replicas, completions, parallelism, resources, node_selector, update), `failures` (at a time: kill or restore nodes by name or a count of a group, crash a replica, or roll out a new version of a service, optionally `fails: true`, under its `update`: max_surge, max_unavailable, canary, auto_promote, min_healthy_time, auto_revert, progress_deadline) and an optional `duration` (default: 60s after the last failure). Each strategy runs through the real reconciler in simulated time, offline. Strategies are ranked by fewest unschedulable replicas, then fastest convergence, then fewest reschedules, then most empty nodes. Killing a count of a group kills its busiest nodes.",
    examples: [
      ["Compare spread and binpack", "tessera sim -f examples/sim-fleet.yaml"],
      ["The full report as JSON", "tessera sim -f examples/sim-fleet.yaml -o json"],
      ["Only binpack", "tessera sim -f examples/sim-fleet.yaml --strategy binpack"],
    ],
  });
  file = Option.String("-f,--file", { required: true, description: "scenario file (JSON or YAML), or - for stdin" });
  output = Option.String("-o,--output", "table", { description: "table or json (the full report)" });
  strategies = Option.Array("--strategy", { description: `a strategy to simulate (${PLACEMENT_STRATEGIES.join(", ")}); repeat for several (default: all)` });

  async run(): Promise<number> {
    const format = oneOf(this.output, "-o", OUTPUTS);
    const strategies: PlacementStrategy[] = [];
    for (const s of this.strategies ?? PLACEMENT_STRATEGIES) {
      const known = oneOf(s, "--strategy", PLACEMENT_STRATEGIES);
      if (!strategies.includes(known)) strategies.push(known);
    }
    const input = await readInput(this.file);
    const parsed = parseScenario(parseDocument(input.text, input.source, input.format));
    if ("problems" in parsed) throw new InputError(parsed.problems.map((p) => `${input.source}: ${describeRejection(p)}`).join("\n"));
    const report = simulate(parsed.scenario, strategies);
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
      showMs(r.convergence[0]!.ms),
      failures ? showMs(Math.max(...r.convergence.slice(1).map((c) => c.ms ?? Number.POSITIVE_INFINITY))) : "-",
      `${u.nodesUsed}/${u.nodesUsed + u.emptyNodes}`,
      String(u.emptyNodes),
      `${u.cpuPercent.mean}%/${u.cpuPercent.max}%`,
      `${u.memoryPercent.mean}%/${u.memoryPercent.max}%`,
    ];
  });
  const lines = [
    `${report.nodes} nodes, ${report.desiredReplicas} replicas, ${showMs(report.durationMs)} simulated`,
    renderTable(["RANK", "STRATEGY", "PLACED", "UNSCHEDULABLE", "RESCHEDULES", "START", "RECOVERY", "NODES USED", "EMPTY", "CPU MEAN/MAX", "MEMORY MEAN/MAX"], rows),
  ];
  for (const r of report.strategies) for (const p of r.pending) lines.push(`${r.strategy}: ${p.workload} ×${p.replicas} pending: ${p.reason}`);
  for (const r of report.strategies) {
    for (const ro of r.rollouts) lines.push(`${r.strategy}: rollout of ${ro.workload} at ${showMs(ro.at)}: ${ro.outcome}${ro.ms === null ? "" : ` in ${showMs(ro.ms)}`}`);
  }
  lines.push(report.summary);
  return lines.join("\n");
}
