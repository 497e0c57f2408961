/**
 * The fleet as one reconcile pass's placements see it: nodes sorted by name, and what each
 * holds (cpu, memory, ports, copies per workload) in arrays indexed like that list, so the
 * placer's inner loop neither allocates nor hashes. PURE; the Placer (placement.ts) builds it
 * on its first choice and reserves in it what it hands out.
 */
import { cordonGate } from "./gates.js";
import type { ClusterState, NodeRecord } from "../model/cluster-state.js";
import { holdsNode } from "../model/cluster-status.js";
import type { NodeHealth } from "../model/node-health.js";
import { FleetLabels, WorkloadCopies } from "../model/placement-rules.js";
import { PortPool } from "./port-pool.js";

export interface Fleet {
  nodes: NodeRecord[];
  index: Map<string, number>;
  cpuUsed: Float64Array;
  memUsed: Float64Array;
  cpuCapacity: Float64Array;
  memCapacity: Float64Array;
  /** Why a node can take nothing new at all this pass (health, cordon), or undefined. */
  closed: Array<string | undefined>;
  /**
   * Copies per workload (per node index, per label value), for spread and the workload's rules:
   * counted on first use (copiesOf), as few workloads of a pass ask.
   */
  copies: Map<string, WorkloadCopies>;
  state: ClusterState;
  released: ReadonlySet<string>;
  /** Nodes by their label values (spread, affinity), built on first use. */
  labels: FleetLabels;
  /** Workloads with any failure history: only they can be quarantined anywhere. */
  crashed: Set<string>;
  /** Per executor kind, 1 for the nodes that can run it (built on first use). */
  runs: Map<string, Uint8Array>;
  ports: PortPool;
}

/**
 * The fleet with what its copies hold; `released` are copies the pass already gave up (lost):
 * they no longer hold anything.
 */
export function fleetOf(state: ClusterState, health: ReadonlyMap<string, NodeHealth>, released: ReadonlySet<string>): Fleet {
  const nodes = [...state.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const f: Fleet = {
    nodes,
    index: new Map(),
    cpuUsed: new Float64Array(nodes.length),
    memUsed: new Float64Array(nodes.length),
    cpuCapacity: Float64Array.from(nodes, (node) => node.capacity.cpuMillis),
    memCapacity: Float64Array.from(nodes, (node) => node.capacity.memoryMb),
    closed: [],
    copies: new Map(),
    state,
    released,
    labels: new FleetLabels(nodes),
    crashed: new Set(),
    runs: new Map(),
    ports: new PortPool(nodes),
  };
  f.closed = nodes.map((node, i) => {
    f.index.set(node.name, i);
    if (!node.connected || health.get(node.name) !== "ready") return "not Ready";
    return cordonGate(node)?.reason;
  });
  for (const workload of state.crashes.keys()) f.crashed.add(workload);
  // What nodeUse (cluster-status.ts) counts, straight into the arrays: this runs over every copy in each pass that places one.
  for (const inst of state.instances.values()) {
    if (inst.node === null || !holdsNode(inst) || released.has(inst.id)) continue;
    const i = f.index.get(inst.node);
    if (i === undefined) continue;
    f.cpuUsed[i]! += inst.resources.cpuMillis;
    f.memUsed[i]! += inst.resources.memoryMb;
    if (inst.ports.length > 0) f.ports.hold(i, inst.name, inst.ports);
  }
  return f;
}

/** The copies of `workload` holding a node, counted from the state on first use; then kept up to date by countCopy. */
export function copiesOf(f: Fleet, workload: string): WorkloadCopies {
  let c = f.copies.get(workload);
  if (c) return c;
  f.copies.set(workload, (c = new WorkloadCopies()));
  for (const id of f.state.instancesByWorkload.get(workload) ?? []) {
    const inst = f.state.instances.get(id)!;
    if (inst.node === null || !holdsNode(inst) || f.released.has(id)) continue;
    const i = f.index.get(inst.node);
    if (i !== undefined) c.add(i, f.nodes[i]!);
  }
  return c;
}

/** Counts one copy of `workload` on node `i`. */
export function countCopy(f: Fleet, i: number, workload: string): void {
  copiesOf(f, workload).add(i, f.nodes[i]!);
}
