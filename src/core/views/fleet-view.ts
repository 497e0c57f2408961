/**
 * What the web page (the mosaic) shows of the fleet: one record per node, copy and workload,
 * the whole fleet at once (a snapshot) and then only the records a commit touched (a change).
 * Also the page's own reading of those records: a copy's letter and accessible name, and how
 * a change is folded into what the page holds. PURE: the control plane and the browser share it.
 */
import { type Capacity, type ClusterView, type DesiredState, type Instance, type NodeRecord, type Workload, workloadOfInstanceId } from "../model/cluster-state.js";
import { allocatedOn, desiredCopies, heldNode, isReady, runsCurrentTemplate } from "../model/cluster-status.js";
import type { InstanceState } from "../model/instance-machine.js";
import type { NodeHealth } from "../model/node-health.js";
import type { AssignedPort } from "../model/ports.js";
import { resolveSpec } from "../model/spec.js";

export interface NodeTile {
  name: string;
  health: NodeHealth;
  cordoned: boolean;
  draining: boolean;
  capacity: Capacity;
  /** What the copies holding it reserve. */
  allocated: Capacity;
  labels: Record<string, string>;
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
  /** Replicas with a copy of the current template (as `get workloads` counts UP-TO-DATE). */
  upToDate: number;
  /** The gate holding its rollout (canary, soak, wave, paused, stalled); "" when none. */
  hold: string;
  paused: boolean;
  /** A periodic batch's cron schedule, with its time zone when not UTC; "" for any other workload. */
  schedule: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
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

function nodeTile(n: Readonly<NodeRecord>, allocated: Capacity): NodeTile {
  return { name: n.name, health: n.health, cordoned: !n.schedulable, draining: n.draining, capacity: n.capacity, allocated, labels: n.labels };
}

export function copyTile(i: Readonly<Instance>): CopyTile {
  return { id: i.id, name: i.name, workload: i.workload, generation: i.generation, state: i.state, desired: i.desired, ready: isReady(i), node: i.node, ports: i.ports, reason: i.reason };
}

function workloadTile(view: ClusterView, w: Readonly<Workload>): WorkloadTile {
  let ready = 0;
  const current = new Set<number>();
  for (const id of view.instancesByWorkload.get(w.name) ?? []) {
    const i = view.instances.get(id)!;
    // As `get workloads` counts READY: every copy that serves, whichever spec it runs.
    if (i.desired === "run" && isReady(i)) ready++;
    if (i.desired === "run" && runsCurrentTemplate(w, i) && i.state !== "failed") current.add(i.index);
  }
  const spec = resolveSpec(w.spec);
  return {
    name: w.name,
    kind: spec.kind,
    generation: w.generation,
    deleting: w.deleting,
    // A periodic batch runs nothing itself (its runs are workloads of their own): it wants no copy.
    desired: spec.periodic ? 0 : desiredCopies(view, w),
    ready,
    upToDate: current.size,
    hold: w.rolloutHold,
    paused: w.paused,
    schedule: w.spec.schedule === "" ? "" : `${w.spec.schedule}${w.spec.timeZone === "" ? "" : ` (${w.spec.timeZone})`}`,
    createdAt: w.createdAt,
  };
}

export function fleetSnapshot(view: ClusterView, seq: number): FleetSnapshot {
  return {
    seq,
    nodes: [...view.nodes.values()].map((n) => nodeTile(n, allocatedOn(view, n.name))),
    copies: [...view.instances.values()].map(copyTile),
    workloads: [...view.workloads.values()].map((w) => workloadTile(view, w)),
  };
}

/**
 * Which node each copy held at the last commit followed, so that a commit's touched copies name
 * every node whose use (the state's nodeLoad) it moved, a node one of them just left included.
 */
export class HeldNodes {
  private readonly held = new Map<string, string>();

  constructor(view: ClusterView) {
    this.refresh(view, view.instances.keys());
  }

  /** Follows these copies to what the view holds of them; returns the nodes whose use changed. */
  refresh(view: ClusterView, ids: Iterable<string>): Set<string> {
    const moved = new Set<string>();
    for (const id of ids) {
      const before = this.held.get(id);
      const i = view.instances.get(id);
      const now = i === undefined ? null : heldNode(i);
      if (before === (now ?? undefined)) continue;
      if (before !== undefined) {
        this.held.delete(id);
        moved.add(before);
      }
      if (now !== null) {
        this.held.set(id, now);
        moved.add(now);
      }
    }
    return moved;
  }
}

/**
 * The records a commit touched, as they are now (the nodes whose use it moved, HeldNodes, belong
 * in `touched.nodes`). A
 * touched copy's workload is touched too (its rollout's progress). A copy's tile changes only
 * through events that name it (a delete or restart stops copies one event each), so a touched
 * workload does not bring its copies.
 */
export function fleetChange(view: ClusterView, seq: number, touched: Touched): FleetChange {
  const workloads = new Set(touched.workloads);
  const change: FleetChange = { seq, nodes: [], copies: [], workloads: [], goneNodes: [], goneCopies: [], goneWorkloads: [] };
  for (const id of new Set(touched.instances)) {
    const i = view.instances.get(id);
    if (i) change.copies.push(copyTile(i));
    else change.goneCopies.push(id);
    workloads.add(i?.workload ?? workloadOfInstanceId(id));
  }
  for (const name of workloads) {
    const w = view.workloads.get(name);
    if (w) change.workloads.push(workloadTile(view, w));
    else change.goneWorkloads.push(name);
  }
  for (const name of new Set(touched.nodes)) {
    const n = view.nodes.get(name);
    if (n) change.nodes.push(nodeTile(n, allocatedOn(view, name)));
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
/**
 * Two changes in a row as one: applying the result is applying `a`, then `b` (a record `b`
 * sets replaces `a`'s; gone in `b` is gone; gone in `a` and set again in `b` is back).
 */
export function mergeChanges(a: FleetChange, b: FleetChange): FleetChange {
  const merge = <T>(aSet: T[], aGone: string[], bSet: T[], bGone: string[], key: (t: T) => string) => {
    const again = new Set(bSet.map(key));
    return {
      set: [...aSet.filter((t) => !again.has(key(t))), ...bSet],
      gone: [...new Set([...aGone.filter((k) => !again.has(k)), ...bGone])],
    };
  };
  const nodes = merge(a.nodes, a.goneNodes, b.nodes, b.goneNodes, (n) => n.name);
  const copies = merge(a.copies, a.goneCopies, b.copies, b.goneCopies, (c) => c.id);
  const workloads = merge(a.workloads, a.goneWorkloads, b.workloads, b.goneWorkloads, (w) => w.name);
  return { seq: b.seq, nodes: nodes.set, copies: copies.set, workloads: workloads.set, goneNodes: nodes.gone, goneCopies: copies.gone, goneWorkloads: workloads.gone };
}

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
