/**
 * What applying an event to a state is made of: the shape of the per-resource evolver tables,
 * and the in-place edits that evolve and restoring a stored state share. PURE.
 */
import { CRASH_HISTORY, type ClusterState, type Instance } from "../model/cluster-state.js";
import { heldNode } from "../model/cluster-status.js";
import type { ClusterEvent, ClusterEventType } from "./cluster-events.js";

/** Applies one event of type K to the state, in place. */
export type Evolver<K extends ClusterEventType> = (state: ClusterState, event: Extract<ClusterEvent, { type: K }>) => void;

/** An evolver for every event type: the compiler names the one forgotten. */
export type Evolvers = { [K in ClusterEventType]: Evolver<K> };

/** The entry an event refers to; a log that names a missing one is refused, loudly. */
export function must<V>(map: Map<string, V>, key: string, what: string): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`event log is inconsistent: unknown ${what} ${key}`);
  return value;
}

/** Appends a failure time to the bounded history of (workload, node). */
export function recordCrash(state: ClusterState, workload: string, node: string, at: number): void {
  let byNode = state.crashes.get(workload);
  if (!byNode) state.crashes.set(workload, (byNode = new Map()));
  const times = byNode.get(node) ?? [];
  times.push(at);
  if (times.length > CRASH_HISTORY) times.shift();
  byNode.set(node, times);
}

/** Adds `id` under `key` of an index. */
function indexAdd(index: Map<string, Set<string>>, key: string, id: string): void {
  let ids = index.get(key);
  if (!ids) index.set(key, (ids = new Set()));
  ids.add(id);
}

/** Removes `id` from under `key` of an index, and the key's entry with its last id. */
function indexDelete(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}

/** Adds (or replaces) an instance and indexes it under its workload, the node it was placed on and the node it holds. */
export function putInstance(state: ClusterState, inst: Instance): void {
  const old = state.instances.get(inst.id);
  if (old !== undefined) moveLoad(state, old, heldNode(old), null);
  if (old?.node != null && old.node !== inst.node) indexDelete(state.instancesByNode, old.node, inst.id);
  state.instances.set(inst.id, inst);
  indexAdd(state.instancesByWorkload, inst.workload, inst.id);
  if (inst.node !== null) indexAdd(state.instancesByNode, inst.node, inst.id);
  moveLoad(state, inst, null, heldNode(inst));
}

/** Places an instance on `node`, moving it in the per-node index (its load moves with its state: moveLoad). */
export function placeOn(state: ClusterState, inst: Instance, node: string): void {
  if (inst.node !== null) indexDelete(state.instancesByNode, inst.node, inst.id);
  inst.node = node;
  indexAdd(state.instancesByNode, node, inst.id);
}

/** Removes an instance, and its index entries (a workload's or node's with its last one). */
export function dropInstance(state: ClusterState, inst: Instance): void {
  moveLoad(state, inst, heldNode(inst), null);
  state.instances.delete(inst.id);
  indexDelete(state.instancesByWorkload, inst.workload, inst.id);
  if (inst.node !== null) indexDelete(state.instancesByNode, inst.node, inst.id);
}

/**
 * Moves a copy's share of node load (state.nodeLoad) from the node it held, `from`, to the one
 * it holds now, `to` (either null: none). A copy's resources never change in place.
 */
export function moveLoad(state: ClusterState, inst: Instance, from: string | null, to: string | null): void {
  if (from === to) return;
  if (from !== null) {
    const load = state.nodeLoad.get(from)!;
    load.copies.delete(inst.id);
    // The node's last copy takes the entry with it: sums of many moves never drift.
    if (load.copies.size === 0) state.nodeLoad.delete(from);
    else {
      load.cpuMillis -= inst.resources.cpuMillis;
      load.memoryMb -= inst.resources.memoryMb;
    }
  }
  if (to !== null) {
    let load = state.nodeLoad.get(to);
    if (!load) state.nodeLoad.set(to, (load = { cpuMillis: 0, memoryMb: 0, copies: new Set() }));
    load.copies.add(inst.id);
    load.cpuMillis += inst.resources.cpuMillis;
    load.memoryMb += inst.resources.memoryMb;
  }
}
