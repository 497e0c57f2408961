/**
 * `tessera ctl top nodes|workloads|instances [WORKLOAD]`: what copies use (CPU in millicores,
 * memory in MiB) against what they reserve, as kubectl top shows it. From the agents' last
 * samples, which only the leader holds; a copy without one (simulated, no cgroups, just
 * started) shows <unknown>.
 */
import { Command, Option } from "clipanion";
import { resolveSpec } from "../../src/core/model/spec.js";
import type { Instance, ResourceUsage } from "../../src/gen/tessera/v1/types.js";
import { InstanceState } from "../../src/gen/tessera/v1/types.js";
import type { Ctl } from "../client.js";
import { renderTable } from "../table.js";
import { CtlCommand } from "./ctl-command.js";

const MIB = 1024 * 1024;
const UNKNOWN = "<unknown>";
const mib = (bytes: number) => Math.round(bytes / MIB);
/** `used/of` with the percentage, e.g. `120m/200m (60%)`. */
const against = (used: number, of: number, unit: string) => `${used}${unit}/${of}${unit}${of > 0 ? ` (${Math.round((100 * used) / of)}%)` : ""}`;

/** Per workload, the CPU and memory one copy reserves (the spec's resources, or the defaults). */
async function reservations(ctl: Ctl): Promise<Map<string, { cpuMillis: number; memoryMb: number }>> {
  const workloads = await ctl.all(ctl.api.listWorkloads, {}, (r) => r.workloads);
  return new Map(workloads.map((w) => [w.name, resolveSpec(w.spec!)]));
}

const running = (i: Instance) => i.observedState === InstanceState.INSTANCE_STATE_RUNNING;

abstract class TopCommand extends CtlCommand {
  protected print(header: string[], rows: string[][], empty: string): void {
    this.context.stdout.write(rows.length === 0 ? `${empty}\n` : `${renderTable(header, rows)}\n`);
  }
}

export class TopNodesCommand extends TopCommand {
  static paths = [["ctl", "top", "nodes"], ["ctl", "top", "node"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "show what each node's copies use, against the node's capacity",
    examples: [["Every node", "tessera ctl top nodes"]],
  });

  async runWith(ctl: Ctl): Promise<number> {
    const nodes = await ctl.all(ctl.api.listNodes, {}, (r) => r.nodes);
    const cell = (u: ResourceUsage | undefined, f: (u: ResourceUsage) => string) => (u ? f(u) : UNKNOWN);
    this.print(
      ["NAME", "CPU(USED/CAPACITY)", "MEMORY(USED/CAPACITY)"],
      nodes.map((n) => [n.name, cell(n.usage, (u) => against(u.cpuMillis, n.capacity?.cpuMillis ?? 0, "m")), cell(n.usage, (u) => against(mib(u.memoryBytes), n.capacity?.memoryMb ?? 0, "Mi"))]),
      "No nodes.",
    );
    return 0;
  }
}

export class TopWorkloadsCommand extends TopCommand {
  static paths = [["ctl", "top", "workloads"], ["ctl", "top", "workload"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "show what each workload's running copies use in all, against what they reserve",
    examples: [["Every workload", "tessera ctl top workloads"]],
  });

  async runWith(ctl: Ctl): Promise<number> {
    const [reserved, instances] = await Promise.all([reservations(ctl), ctl.all(ctl.api.listInstances, { workload: "" }, (r) => r.instances)]);
    const sums = new Map<string, { copies: number; sampled: number; cpu: number; mem: number }>();
    for (const i of instances.filter(running)) {
      const s = sums.get(i.workload) ?? { copies: 0, sampled: 0, cpu: 0, mem: 0 };
      sums.set(i.workload, s);
      s.copies++;
      if (!i.usage) continue;
      s.sampled++;
      s.cpu += i.usage.cpuMillis;
      s.mem += i.usage.memoryBytes;
    }
    const rows = [...sums].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, s]) => {
      const r = reserved.get(name) ?? { cpuMillis: 0, memoryMb: 0 };
      if (s.sampled === 0) return [name, String(s.copies), "0", UNKNOWN, UNKNOWN];
      return [name, String(s.copies), String(s.sampled), against(s.cpu, r.cpuMillis * s.sampled, "m"), against(mib(s.mem), r.memoryMb * s.sampled, "Mi")];
    });
    this.print(["NAME", "RUNNING", "SAMPLED", "CPU(USED/RESERVED)", "MEMORY(USED/RESERVED)"], rows, "No running copies.");
    return 0;
  }
}

export class TopInstancesCommand extends TopCommand {
  static paths = [["ctl", "top", "instances"], ["ctl", "top", "instance"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "show what each running copy uses, against what it reserves (its limit, when its spec states resources)",
    examples: [
      ["Every running copy", "tessera ctl top instances"],
      ["Those of web", "tessera ctl top instances web"],
    ],
  });
  workload = Option.String({ required: false });

  async runWith(ctl: Ctl): Promise<number> {
    const [reserved, instances] = await Promise.all([reservations(ctl), ctl.all(ctl.api.listInstances, { workload: this.workload ?? "" }, (r) => r.instances)]);
    const rows = instances.filter(running).map((i) => {
      const r = reserved.get(i.workload) ?? { cpuMillis: 0, memoryMb: 0 };
      const u = i.usage;
      return [i.name, i.id, i.node, u ? against(u.cpuMillis, r.cpuMillis, "m") : UNKNOWN, u ? against(mib(u.memoryBytes), r.memoryMb, "Mi") : UNKNOWN];
    });
    this.print(["NAME", "ID", "NODE", "CPU(USED/RESERVED)", "MEMORY(USED/RESERVED)"], rows, "No running copies.");
    return 0;
  }
}
