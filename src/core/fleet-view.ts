/**
 * What the web page (the mosaic) shows of the fleet: one record per node, copy and workload,
 * the whole fleet at once (a snapshot) and then only the records a commit touched (a change).
 * Also the page's own reading of those records: a copy's letter and accessible name, and how
 * a change is folded into what the page holds. PURE: the control plane and the browser share it.
 */
import type { Capacity, ClusterView, DesiredState, Instance, NodeRecord, Workload } from "./cluster-state.js";
import { desiredCopies, isReady, type NodeUse, nodeUse } from "./cluster-status.js";
import type { InstanceState } from "./instance-machine.js";
import type { NodeHealth } from "./node-health.js";
import type { AssignedPort } from "./ports.js";
import { resolveSpec } from "./spec.js";

export interface NodeTile {
  name: string;
  health: NodeHealth;
  cordoned: boolean;
  draining: boolean;
  capacity: Capacity;
  /** What the copies holding it reserve. */
  allocated: Capacity;
}

export interface CopyTile {
  id: string;
  name: string;
  workload: string;
  generation: number;
  state: InstanceState;
  desired: DesiredState;
  ready: boolean;
  /** null while Pending. */
  node: string | null;
  ports: AssignedPort[];
  reason: string;
}

export interface WorkloadTile {
  name: string;
  kind: string;
  generation: number;
  deleting: boolean;
  /** Copies it wants, and how many of the current template are Ready: its rollout's progress. */
  desired: number;
  ready: number;
}

/** The whole fleet as of a sequence number of the event log. */
export interface FleetSnapshot {
  seq: number;
  nodes: NodeTile[];
  copies: CopyTile[];
  workloads: WorkloadTile[];
}

/** What one commit changed: records to put (new or changed) and names or ids now gone. */
export interface FleetChange {
  seq: number;
  nodes: NodeTile[];
  copies: CopyTile[];
  workloads: WorkloadTile[];
  goneNodes: string[];
  goneCopies: string[];
  goneWorkloads: string[];
}

/** The entities a commit's events name (the log's index columns). */
export interface Touched {
  workloads: Iterable<string>;
  instances: Iterable<string>;
  nodes: Iterable<string>;
}

const NOTHING: Capacity = { cpuMillis: 0, memoryMb: 0 };

function nodeTile(n: Readonly<NodeRecord>, allocated: Capacity): NodeTile {
  return { name: n.name, health: n.health, cordoned: !n.schedulable, draining: n.draining, capacity: n.capacity, allocated };
}

export function copyTile(i: Readonly<Instance>): CopyTile {
  return { id: i.id, name: i.name, workload: i.workload, generation: i.generation, state: i.state, desired: i.desired, ready: isReady(i), node: i.node, ports: i.ports, reason: i.reason };
}

function workloadTile(view: ClusterView, w: Readonly<Workload>): WorkloadTile {
  let ready = 0;
  for (const id of view.instancesByWorkload.get(w.name) ?? []) {
    const i = view.instances.get(id)!;
    if (i.desired === "run" && i.generation >= w.templateGeneration && isReady(i)) ready++;
  }
  return { name: w.name, kind: resolveSpec(w.spec).kind, generation: w.generation, deleting: w.deleting, desired: desiredCopies(view, w), ready };
}

export function fleetSnapshot(view: ClusterView, seq: number): FleetSnapshot {
  const use = nodeUse(view);
  return {
    seq,
    nodes: [...view.nodes.values()].map((n) => nodeTile(n, use.get(n.name)?.allocated ?? NOTHING)),
    copies: [...view.instances.values()].map(copyTile),
    workloads: [...view.workloads.values()].map((w) => workloadTile(view, w)),
  };
}

/**
 * The records a commit touched, as they are now. A touched copy's node and workload are
 * touched too (its node's use, its workload's progress), and so is every copy of a touched
 * workload (a delete or restart changes what they want). A node's use is summed over all
 * copies (a node does not index its copies), once per commit.
 */
export function fleetChange(view: ClusterView, seq: number, touched: Touched): FleetChange {
  const workloads = new Set(touched.workloads);
  const instances = new Set(touched.instances);
  const nodes = new Set(touched.nodes);
  for (const w of workloads) for (const id of view.instancesByWorkload.get(w) ?? []) instances.add(id);
  const change: FleetChange = { seq, nodes: [], copies: [], workloads: [], goneNodes: [], goneCopies: [], goneWorkloads: [] };
  for (const id of instances) {
    const i = view.instances.get(id);
    if (!i) {
      change.goneCopies.push(id);
      continue;
    }
    change.copies.push(copyTile(i));
    workloads.add(i.workload);
    if (i.node !== null) nodes.add(i.node);
  }
  for (const name of workloads) {
    const w = view.workloads.get(name);
    if (w) change.workloads.push(workloadTile(view, w));
    else change.goneWorkloads.push(name);
  }
  let use: Map<string, NodeUse> | undefined;
  for (const name of nodes) {
    const n = view.nodes.get(name);
    if (n) change.nodes.push(nodeTile(n, (use ??= nodeUse(view)).get(name)?.allocated ?? NOTHING));
    else change.goneNodes.push(name);
  }
  return change;
}

/** What the page holds: the records by name or id. */
export interface Fleet {
  seq: number;
  nodes: Map<string, NodeTile>;
  copies: Map<string, CopyTile>;
  workloads: Map<string, WorkloadTile>;
}

export function fleetOf(s: FleetSnapshot): Fleet {
  return { seq: s.seq, nodes: new Map(s.nodes.map((n) => [n.name, n])), copies: new Map(s.copies.map((c) => [c.id, c])), workloads: new Map(s.workloads.map((w) => [w.name, w])) };
}

/** Folds a change into what the page holds, in place (the page keeps one Fleet); a change older than it is ignored. */
export function applyChange(fleet: Fleet, c: FleetChange): void {
  if (c.seq < fleet.seq) return;
  fleet.seq = c.seq;
  for (const n of c.nodes) fleet.nodes.set(n.name, n);
  for (const x of c.copies) fleet.copies.set(x.id, x);
  for (const w of c.workloads) fleet.workloads.set(w.name, w);
  for (const n of c.goneNodes) fleet.nodes.delete(n);
  for (const id of c.goneCopies) fleet.copies.delete(id);
  for (const w of c.goneWorkloads) fleet.workloads.delete(w);
}

/** One letter per state: the tile's colour is never the only signal. */
export const STATE_LETTER: { readonly [S in InstanceState]: string } = {
  pending: "P",
  scheduled: "S",
  provisioning: "V",
  running: "R",
  failed: "F",
  stopping: "T",
  stopped: "X",
  lost: "L",
  succeeded: "D",
};

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A copy as a screen reader names it: "web-0 Running Ready on node-a", "web-1 Pending: no node has room". */
export function copyLabel(c: CopyTile): string {
  const where = c.node === null ? "" : ` on ${c.node}`;
  const ready = c.ready ? " Ready" : "";
  const stopping = c.desired === "stop" && c.state !== "stopped" ? " (stopping)" : "";
  const reason = c.reason && c.state !== "running" ? `: ${c.reason}` : "";
  return `${c.name} ${capital(c.state)}${ready}${stopping}${where}${reason}`;
}

/** A node as a screen reader names it: "node-a Ready, cordoned, 2 copies, 500m of 4000m CPU". */
export function nodeLabel(n: NodeTile, copies: number): string {
  const flags = [capital(n.health), ...(n.cordoned ? ["cordoned"] : []), ...(n.draining ? ["draining"] : [])];
  return `${n.name} ${flags.join(", ")}, ${copies} ${copies === 1 ? "copy" : "copies"}, ${n.allocated.cpuMillis}m of ${n.capacity.cpuMillis}m CPU, ${n.allocated.memoryMb} of ${n.capacity.memoryMb} MB`;
}
