/**
 * Placement: feasibility, then scoring. PURE and deterministic (ties broken by node name).
 *
 * Feasible: node Ready and connected, schedulable (not cordoned or draining), offers the
 * executor, carries every node_selector label, has the resources free, and is not quarantined
 * for this workload. Among feasible nodes `spread` prefers fewest instances of the same
 * workload, then lowest utilization; `binpack` prefers highest utilization.
 *
 * On large fleets scoring every node for every placement is O(nodes × placements); like
 * Nomad's limit iterator, each placement scores at most CANDIDATE_LIMIT feasible nodes, taken
 * from a cursor that rotates through the fleet. Fleets up to that size are scored exactly.
 */
import { cordonGate, type QuarantinePolicy, quarantineGate } from "./gates.js";
import { type Capacity, type ClusterState, holdsNode, type NodeRecord } from "./model.js";
import type { NodeHealth } from "./node-health.js";
import type { ResolvedSpec } from "./spec.js";

export type PlacementStrategy = "spread" | "binpack";
export const PLACEMENT_STRATEGIES: readonly PlacementStrategy[] = ["spread", "binpack"];

export const CANDIDATE_LIMIT = 64;

interface Usage {
  cpuMillis: number;
  memoryMb: number;
}

export type Choice = { node: string } | { reason: string };

export class Placer {
  private readonly nodes: NodeRecord[];
  private readonly usage = new Map<string, Usage>();
  /** Instances per workload and node, for spread. */
  private readonly perWorkload = new Map<string, Map<string, number>>();
  private cursor = 0;

  constructor(
    private readonly state: ClusterState,
    private readonly health: ReadonlyMap<string, NodeHealth>,
    private readonly now: number,
    private readonly strategy: PlacementStrategy,
    private readonly quarantine: QuarantinePolicy,
    /** Instances the current pass already gave up (lost): they no longer hold resources. */
    released: ReadonlySet<string>,
  ) {
    this.nodes = [...state.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const inst of state.instances.values()) {
      if (inst.node === null || !holdsNode(inst) || released.has(inst.id)) continue;
      this.add(inst.node, inst.workload, inst.resources.cpuMillis, inst.resources.memoryMb);
    }
  }

  /** What is reserved on a node right now, including this pass's placements. */
  used(node: string): Usage {
    return this.usage.get(node) ?? { cpuMillis: 0, memoryMb: 0 };
  }

  private add(node: string, workload: string, cpuMillis: number, memoryMb: number): void {
    const u = this.usage.get(node);
    if (u) {
      u.cpuMillis += cpuMillis;
      u.memoryMb += memoryMb;
    } else this.usage.set(node, { cpuMillis, memoryMb });
    let m = this.perWorkload.get(workload);
    if (!m) this.perWorkload.set(workload, (m = new Map()));
    m.set(node, (m.get(node) ?? 0) + 1);
  }

  /** Why a node cannot take one instance of the workload, or undefined when it can. */
  infeasible(node: NodeRecord, workload: string, spec: ResolvedSpec): string | undefined {
    if (!node.connected || this.health.get(node.name) !== "ready") return "not Ready";
    const cordon = cordonGate(node);
    if (cordon) return cordon.reason;
    if (!node.executors.includes(spec.kind) && !node.executors.includes("simulated")) return `no ${spec.kind} executor`;
    for (const [k, v] of Object.entries(spec.nodeSelector)) {
      if (node.labels[k] !== v) return `lacks label ${k}=${v}`;
    }
    const u = this.used(node.name);
    if (u.cpuMillis + spec.cpuMillis > node.capacity.cpuMillis) return "short of cpu";
    if (u.memoryMb + spec.memoryMb > node.capacity.memoryMb) return "short of memory";
    if (quarantineGate(this.state, workload, node.name, this.now, this.quarantine)) return "crash-loop quarantine";
    return undefined;
  }

  /** Picks a node and reserves the resources there, or explains why none fits. */
  choose(workload: string, spec: ResolvedSpec): Choice {
    const n = this.nodes.length;
    if (n === 0) return { reason: "no nodes" };
    const same = this.perWorkload.get(workload);
    let best: NodeRecord | undefined;
    let bestAt = 0;
    let bestKey: [number, number] = [0, 0];
    let found = 0;
    const refusals = new Map<string, number>();
    for (let k = 0; k < n && found < CANDIDATE_LIMIT; k++) {
      const at = (this.cursor + k) % n;
      const node = this.nodes[at]!;
      const why = this.infeasible(node, workload, spec);
      if (why !== undefined) {
        refusals.set(why, (refusals.get(why) ?? 0) + 1);
        continue;
      }
      found++;
      const key = this.score(node, spec, same?.get(node.name) ?? 0);
      if (best === undefined || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && node.name < best.name)))) {
        best = node;
        bestAt = at;
        bestKey = key;
      }
    }
    if (best === undefined) {
      const detail = [...refusals.entries()]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([why, count]) => `${count} ${why}`)
        .join(", ");
      return { reason: `no node fits (${detail})` };
    }
    this.cursor = (bestAt + 1) % n;
    this.add(best.name, workload, spec.cpuMillis, spec.memoryMb);
    return { node: best.name };
  }

  /** Lower is better. */
  private score(node: NodeRecord, spec: ResolvedSpec, sameWorkload: number): [number, number] {
    const u = this.used(node.name);
    const c: Capacity = node.capacity;
    const utilization = ((u.cpuMillis + spec.cpuMillis) / c.cpuMillis + (u.memoryMb + spec.memoryMb) / c.memoryMb) / 2;
    return this.strategy === "spread" ? [sameWorkload, utilization] : [-utilization, 0];
  }
}
