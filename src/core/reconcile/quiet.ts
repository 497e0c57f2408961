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
 * about anything else (a node, a secret, listening) ends every quiet, and a pass that judges a
 * node's health changed plans everything: those change what a census of any copy says.
 *
 * The map is the writer's memory, not state: a pass given none plans everything (replay,
 * what-if) and decides exactly what a pass given one decides (invariant 41, ARCHITECTURE.md).
 * PURE.
 */
import type { ClusterEvent } from "../events/cluster-events.js";
import { isVolatile, touches } from "../events/event-facts.js";
import { type ClusterState, type Workload, workloadOfInstanceId } from "../model/cluster-state.js";
import type { ResolvedSpec } from "../model/spec.js";
import { dueForReplacement } from "./copies.js";
import type { Pass, WorkloadView } from "./pass.js";
import type { Skip } from "./reconcile.js";

/** A quiet workload: what its planning held back, said again by each pass that leaves it out, until `until`. */
export interface QuietEntry {
  until: number;
  skips: Skip[];
}

/** The writer's quiet workloads, by name. */
export type QuietWorkloads = Map<string, QuietEntry>;

/** What a pass is told and tells back: the workloads it may leave out, and those it found quiet. */
export interface QuietScope {
  skip: ReadonlyMap<string, QuietEntry>;
  found: QuietWorkloads;
}

/** After `e` is applied: what it may have changed is no longer quiet (see the module comment). */
export function unquiet(quiet: QuietWorkloads, e: ClusterEvent): void {
  if (quiet.size === 0 || isVolatile(e)) return;
  const t = touches(e);
  if (t.workload === undefined && t.instance === undefined) return quiet.clear();
  if (t.workload !== undefined) quiet.delete(t.workload);
  if (t.instance !== undefined) quiet.delete(workloadOfInstanceId(t.instance));
}

/** Before a pass at `now`: workloads whose quiet ended are planned again. */
export function expireQuiet(quiet: QuietWorkloads, now: number): void {
  for (const [name, q] of quiet) if (q.until <= now) quiet.delete(name);
}

/** Whether `workload`, as the census `v` found it, is at rest as the module comment says. */
export function atRest(pass: Pass, workload: Workload, spec: ResolvedSpec, v: WorkloadView): boolean {
  if (workload.deleting || workload.paused || spec.kind !== "service" || spec.periodic !== undefined || pass.state.crashes.has(workload.name)) return false;
  if (v.running.length !== spec.replicas || v.lostSlots !== undefined || copiesOf(pass.state, workload.name) !== v.running.length) return false;
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

function copiesOf(state: ClusterState, workload: string): number {
  return state.instancesByWorkload.get(workload)?.size ?? 0;
}
