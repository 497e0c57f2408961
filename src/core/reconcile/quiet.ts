/**
 * Quiet workloads: those a reconcile pass may leave out, because planning them again would
 * decide nothing until something about them changes or a known moment comes. Without this,
 * every pass visits every workload and copy: at 100,000 workloads a pass costs about a second,
 * and every apply waits behind one.
 *
 * A workload is quiet when the pass that planned it changed nothing and it is at rest: a service
 * not paused, deleting, periodic or crash-looping, with exactly its replicas, one copy per slot,
 * each Running on a Ready node that is not draining; either its last rollout completed, or every
 * copy runs the current template and the rollout waits only on time or on a report (copies
 * soaking for min_healthy_time, or not Ready yet) with no waves. Such a workload's planning reads
 * its own copies and spec and the clock, so it stays quiet until an event touches it (its spec,
 * one of its copies) or its `until`: the first copy's soak ending, or the rollout's progress
 * deadline passing. Meanwhile a pass repeats what its planning held back (`skips`). An event
 * about a node (connected, gone, cordoned, draining, its health) ends the quiet of the workloads
 * with copies on it, and a pass that judges a node's health changed plans those too: what a
 * census says of a copy depends on its own node alone, and a quiet workload places nothing (a
 * workload with a copy to place, a system workload or one whose copy is on a node not Ready is
 * never quiet). An event about anything else (a secret, tokens, listening) ends every quiet.
 *
 * This memory (QuietWorkloads) is the writer's, not state: a pass given none plans everything (replay,
 * what-if) and decides exactly what a pass given one decides (invariant 41, ARCHITECTURE.md).
 * PURE.
 */
import type { ClusterEvent } from "../events/cluster-events.js";
import { isVolatile, touches } from "../events/event-facts.js";
import { type ClusterState, type ClusterView, type Instance, inCreationOrder, type Workload, workloadOfInstanceId } from "../model/cluster-state.js";
import type { ResolvedSpec } from "../model/spec.js";
import { dueForReplacement } from "./copies.js";
import type { Pass, WorkloadView } from "./pass.js";
import type { Skip } from "./reconcile.js";

/** A quiet workload: what its planning held back, said again by each pass that leaves it out, until `until`. */
export interface QuietEntry {
  until: number;
  skips: Skip[];
}

/** What a pass is told (the quiet workloads and the others), and what it tells back. */
export interface QuietScope {
  quiet: ReadonlyMap<string, QuietEntry>;
  /** Of `quiet`, those that held something back. */
  held: Iterable<QuietEntry>;
  /** The workloads not quiet; undefined: plan every workload. */
  awake: Iterable<string> | undefined;
  /** Filled by the pass: the workloads it planned, those of them it found quiet, and whether it planned every workload. */
  planned: string[];
  found: Map<string, QuietEntry>;
  everyWorkload: boolean;
}

/**
 * The writer's memory of quiet workloads: each workload is quiet (with its entry) or awake,
 * so a pass visits the awake ones alone; `everything` until a pass over every workload has
 * sorted them.
 */
export class QuietWorkloads {
  private readonly quiet = new Map<string, QuietEntry>();
  /** The quiet ones whose quiet ends at a known moment. */
  private readonly ends = new Map<string, number>();
  private readonly held = new Map<string, QuietEntry>();
  private readonly awakeSet = new Set<string>();
  private everything = true;

  /** What a pass at `now` is told; quiets ended by then are over. */
  scope(now: number): QuietScope {
    for (const [name, until] of this.ends) if (until <= now) this.wake(name);
    return { quiet: this.quiet, held: this.held.values(), awake: this.awake, planned: [], found: new Map(), everyWorkload: false };
  }

  /**
   * After a pass: those it found are quiet, every other workload it planned is awake (a
   * workload gone is neither). A pass over every workload (asked for, or because it judged a
   * node's health changed) sorts them all anew.
   */
  passed(pass: QuietScope): void {
    if (pass.everyWorkload) this.forget();
    this.everything = false;
    this.awakeSet.clear();
    for (const name of pass.planned) if (!pass.found.has(name)) this.awakeSet.add(name);
    for (const [name, q] of pass.found) {
      this.quiet.set(name, q);
      if (Number.isFinite(q.until)) this.ends.set(name, q.until);
      if (q.skips.length > 0) this.held.set(name, q);
    }
  }

  /** After `e` is applied to `state`: what it may have changed is no longer quiet (see the module comment). */
  touched(e: ClusterEvent, state: ClusterView): void {
    if (this.everything || isVolatile(e)) return;
    const t = touches(e);
    if (t.workload !== undefined) this.wake(t.workload);
    if (t.instance !== undefined) this.wake(workloadOfInstanceId(t.instance));
    if (t.workload !== undefined || t.instance !== undefined) return;
    if (t.node === undefined || t.tokens !== undefined || t.listening !== undefined || t.secret !== undefined) return this.forget();
    for (const name of workloadsOn(state, [t.node])) this.wake(name);
  }

  /** Every workload is planned again (a store reloaded, a change about a node). */
  forget(): void {
    this.everything = true;
    this.quiet.clear();
    this.ends.clear();
    this.held.clear();
    this.awakeSet.clear();
  }

  private wake(name: string): void {
    this.awakeSet.add(name);
    if (!this.quiet.delete(name)) return;
    this.ends.delete(name);
    this.held.delete(name);
  }

  get size(): number {
    return this.quiet.size;
  }

  /** The workloads that are not quiet; undefined while every workload is (before a pass sorted them). */
  get awake(): ReadonlySet<string> | undefined {
    return this.everything ? undefined : this.awakeSet;
  }
}

/** Whether `workload`, as the census `v` found it, is at rest as the module comment says. */
export function atRest(pass: Pass, workload: Workload, spec: ResolvedSpec, v: WorkloadView): boolean {
  if (workload.deleting || workload.paused || spec.kind !== "service" || spec.periodic !== undefined || pass.state.crashes.has(workload.name)) return false;
  if (v.running.length !== spec.replicas || v.lostSlots !== undefined || copyCount(pass.state, workload.name) !== v.running.length) return false;
  const complete = workload.stable?.generation === workload.templateGeneration;
  if (!complete && spec.waves.length > 0) return false;
  const outdated = dueForReplacement(workload, pass.draining);
  let slots = 0;
  for (const i of v.running) {
    if (i.state !== "running" || i.node === null || pass.health.get(i.node) !== "ready" || pass.draining.has(i.node)) return false;
    if (i.index >= 31 || (slots & (1 << i.index)) !== 0 || (!complete && outdated(i))) return false;
    slots |= 1 << i.index;
  }
  return true;
}

/**
 * Until when a workload at rest whose planning changed nothing, holding back `skips`, stays
 * quiet: the first of those holds' ends (its copies' soak among them: plan-rollout.ts), and,
 * while its rollout is not complete, the moment it would be past its progress deadline.
 */
export function quietUntil(workload: Workload, spec: ResolvedSpec, skips: Skip[]): number {
  let until = Number.POSITIVE_INFINITY;
  for (const s of skips) if (s.until !== undefined) until = Math.min(until, s.until);
  if (workload.stable?.generation !== workload.templateGeneration) until = Math.min(until, workload.progressSince + spec.progressDeadlineMs + 1);
  return until;
}

/** The workloads with copies placed on any of `nodes` (in whatever state). */
export function workloadsOn(state: ClusterView, nodes: Iterable<string>): Set<string> {
  const names = new Set<string>();
  for (const node of nodes) for (const id of state.instancesByNode.get(node) ?? []) names.add(workloadOfInstanceId(id));
  return names;
}

function copyCount(state: ClusterState, workload: string): number {
  return state.instancesByWorkload.get(workload)?.size ?? 0;
}

/** The awake workloads that exist. */
export function* awakeWorkloads(state: ClusterState, awake: Iterable<string>): Iterable<Workload> {
  for (const name of awake) {
    const w = state.workloads.get(name);
    if (w !== undefined) yield w;
  }
}

/** The awake workloads a pass looks at: those that exist, and those gone whose copies are still held. */
export function awakeNames(state: ClusterState, awake: Iterable<string>): string[] {
  const names: string[] = [];
  for (const name of awake) if (state.workloads.has(name) || state.instancesByWorkload.has(name)) names.push(name);
  return names;
}

/**
 * The copies of `workloads`, in the order of the state's map (the order they were created in:
 * evolve and stored-state.ts keep it), so a census of them lists what it finds as a census of
 * every copy would.
 */
export function awakeCopies(state: ClusterState, workloads: readonly string[]): Instance[] {
  const ids: string[] = [];
  for (const name of workloads) for (const id of state.instancesByWorkload.get(name) ?? []) ids.push(id);
  return inCreationOrder(ids).map((id) => state.instances.get(id)!);
}
