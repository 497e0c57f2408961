/**
 * How a service's replica slot gets its new copy when that is not simply "place one beside the
 * old": stop-then-start when the new copy fits only in the old one's place, which of several
 * old copies stays, and the spec old copies are kept on while a canary holds the rollout. PURE;
 * a slot's planning (plan-slot.ts) asks, and records what these decide in its plan.
 */
import { isAvailable, isReady } from "../model/cluster-status.js";
import type { Instance, Workload } from "../model/cluster-state.js";
import { disruptionGate } from "./gates.js";
import type { NodeFilter, Placer } from "./placement.js";
import type { PlaceCause, Plan } from "./reconcile.js";
import { type ResolvedSpec, resolveSpec } from "../model/spec.js";
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { eraOfTemplate } from "../model/template-eras.js";

/**
 * The spec a held canary's old copies keep, the template it is, and the generation copies made
 * of it get (its era's start, so that they run it: model/template-eras.ts): the last completed
 * spec; without one, the template before the change. A copy of that generation, started, runs
 * it (plan-to-events.ts).
 */
export function keptSpec(workload: Workload): { spec: WorkloadSpec; generation: number; template: number } | undefined {
  if (workload.stable !== null) {
    const { spec, generation: template } = workload.stable;
    return { spec, template, generation: eraOfTemplate(workload.eras, template)?.from ?? template };
  }
  const before = workload.eras.findLast((e) => e.template !== workload.templateGeneration);
  return before === undefined ? undefined : { spec: before.spec, generation: before.from, template: before.template };
}

/**
 * The kept spec as the workload its old copies are planned by while a canary holds the rollout
 * (as Kubernetes keeps the old ReplicaSet's pods): its template, with the current replicas and
 * update strategy. Undefined when there is none to keep.
 */
export function keptTemplate(workload: Workload, spec: ResolvedSpec): { workload: Workload; spec: ResolvedSpec } | undefined {
  const kept = keptSpec(workload);
  if (kept === undefined) return undefined;
  return {
    workload: { ...workload, spec: kept.spec, generation: kept.generation, templateGeneration: kept.template, restartSeq: 0, reverted: null },
    spec: { ...resolveSpec(kept.spec), replicas: spec.replicas, maxSurge: spec.maxSurge, maxUnavailable: spec.maxUnavailable, minHealthyMs: spec.minHealthyMs, canary: 0, waves: [] },
  };
}

/** How well a copy serves, for choosing which of a slot's old copies stays: available, Ready, placed, Pending. */
export function serves(i: Instance, c: Pick<SlotContext, "soakOf" | "now">): number {
  return isAvailable(i, c.soakOf(i), c.now) ? 3 : isReady(i) ? 2 : i.state === "pending" ? 0 : 1;
}

/** What stopFirst reads of the slot's planning. */
export interface SlotContext {
  placer: Placer;
  workload: Workload;
  spec: ResolvedSpec;
  /** The disruption budget's count of available replicas, taken down by a stop it allows. */
  budget: { available: number };
  now: number;
  only: NodeFilter | undefined;
  /** How long a copy must have been Ready to count as available (copies.ts soakOf). */
  soakOf: (i: Instance) => number;
}

/**
 * Stop-then-start (Nomad's order; Kubernetes scales the old pod down within max_unavailable): a
 * new copy that fits nowhere beside its slot's old copy may fit in its place, as a static port
 * on the only node that matches. The old copy is stopped first when that makes room and the
 * disruption budget allows it. Returns why the new copy waits, for its Pending reason.
 */
export function stopFirst(out: Plan, c: SlotContext, old: Instance, cause: PlaceCause, unplaceable: string): string {
  if (!c.placer.fitsInPlaceOf(old, c.workload.name, c.spec, c.only)) return unplaceable;
  const soaked = isAvailable(old, c.soakOf(old), c.now);
  const refused = isReady(old) ? disruptionGate(c.budget.available, c.spec, soaked) : undefined;
  if (refused) {
    out.skip.push({ workload: c.workload.name, instance: old.id, ...refused });
    return `${unplaceable}; ${old.id} would have to stop first to make room on ${old.node}, and max_unavailable ${c.spec.maxUnavailable} keeps it running`;
  }
  if (soaked) c.budget.available--;
  out.stop.push({ instance: old.id, reason: `${cause}: stopped before its replacement starts (it needs its place on ${old.node})` });
  return `waiting for ${old.id} to stop: this copy needs its place on ${old.node}`;
}
