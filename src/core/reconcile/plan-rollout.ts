/**
 * A service's rollout, around the planning of its slots: its milestones before (complete,
 * reverted, stalled, promoted), the slots a canary holds (old copies planned as the kept spec's,
 * the canary as the new one's), and after, the wave it moved on to and the delivery gate that
 * holds it. PURE.
 */
import { canaryGate, type GateName, quarantinesOf } from "./gates.js";
import { type Instance, STALLED, type Workload } from "../model/cluster-state.js";
import { availableAt, availableCanaries, isAvailable, rolloutStatus, runsCurrentTemplate, stallCause, waitingCanaries } from "../model/cluster-status.js";
import { type ResolvedSpec, sameTemplate } from "../model/spec.js";
import { reasonWithStderr } from "../output/stderr-tail.js";
import { onDrainingNode } from "./copies.js";
import type { Pass } from "./pass.js";
import { planSlot, type SlotPlan } from "./plan-slot.js";
import type { Plan, Skip } from "./reconcile.js";
import type { WaveOrder } from "./waves.js";

/**
 * A service's rollout milestones, decided before its slots: complete (every replica has an
 * available copy of the current template: what auto_revert goes back to from now on), failed
 * under auto_revert (not complete within progress_deadline: back to the last completed spec),
 * stalled (past the deadline with nothing to revert it: recorded once), promoted by
 * auto_promote (every canary available). Returns how many slots are canaries waiting for
 * promotion (0 when no rollout waits at its canaries) and whether it is stalled, or undefined
 * when the rollout is reverted: nothing else of the workload is planned in that pass.
 */
export function rolloutMilestones(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, insts: Instance[]): { canaries: number; stalled: boolean } | undefined {
  const { now } = pass;
  const canaries = waitingCanaries(workload, spec, insts);
  // A workload scaled to nothing rolls nothing out: no milestone to record.
  if (workload.stable?.generation === workload.templateGeneration || spec.replicas === 0) return { canaries, stalled: false };
  const status = rolloutStatus(workload, spec, insts, now, spec.replicas);
  if (status.phase === "complete" && canaries === 0) {
    out.complete.push({ name: workload.name, generation: workload.templateGeneration });
    return { canaries: 0, stalled: false };
  }
  // Copies Ready but still soaking: the pass when the first becomes available is a wakeup.
  // (Without min_healthy_time a Ready copy is available at once: nothing soaks.)
  let soakEnd = Number.POSITIVE_INFINITY;
  if (spec.minHealthyMs > 0) for (const i of insts) if (runsCurrentTemplate(workload, i) && !isAvailable(i, spec.minHealthyMs, now)) soakEnd = Math.min(soakEnd, availableAt(i, spec.minHealthyMs) ?? soakEnd);
  if (soakEnd < Number.POSITIVE_INFINITY) out.skip.push({ workload: workload.name, gate: "soak", reason: `new copies soaking for min_healthy_time ${spec.minHealthyMs / 1000}s`, until: soakEnd });
  const revertible = spec.autoRevert && workload.stable !== null && !sameTemplate(workload.stable.spec, workload.spec);
  // New copies crash-looping (the current template quarantined on a node: its failure history
  // is the current template's alone) fail the rollout before its deadline. Looked for only where
  // a revert can follow; only the nodes where the workload failed are visited.
  const looping = revertible ? quarantinesOf(pass.state, workload.name, now, pass.quarantine)[0]?.node : undefined;
  const late = status.phase === "stalled" ? `not complete within progress_deadline ${spec.progressDeadlineMs / 1000}s (${stallCause(status)})` : "";
  if (revertible && (status.phase === "stalled" || looping !== undefined)) {
    const last = insts.filter((i) => i.state === "failed" && runsCurrentTemplate(workload, i)).at(-1);
    const reason = looping ? `new copies crash-looping on ${looping}${last ? ` (${last.id}: ${reasonWithStderr(last.reason, last.stderrTail)})` : ""}` : late;
    out.revert.push({ name: workload.name, reason });
    return undefined;
  }
  if (status.phase === "stalled" && workload.rolloutHold !== STALLED) {
    const unrevertible = spec.autoRevert && workload.stable === null ? "; auto_revert has nothing to go back to: no rollout of this workload completed" : "";
    out.stalled.push({ name: workload.name, generation: workload.templateGeneration, reason: late + unrevertible });
  }
  if (canaries > 0 && spec.autoPromote && availableCanaries(workload, insts, canaries, spec.minHealthyMs, now) === canaries) out.promote.push({ name: workload.name });
  return { canaries, stalled: status.phase === "stalled" };
}

/** The two plannings of a slot while a canary holds the rollout: its old copies', as the kept spec's, and its canary's. */
export interface HeldPlan {
  old: SlotPlan;
  canary: SlotPlan;
  draining: ReadonlySet<string>;
}

const NO_GATE = () => undefined;

/** The plannings of a workload's held slots: `kept` is the spec its old copies keep (keptTemplate). */
export function heldPlan(c: SlotPlan, kept: Pick<SlotPlan, "workload" | "spec">, draining: ReadonlySet<string>): HeldPlan {
  // One of a spec superseded before it was placed is not started as the kept one.
  const moves = (i: Instance) => onDrainingNode(draining, i) || (i.state === "pending" && i.generation !== kept.workload.generation);
  return {
    old: { ...c, workload: kept.workload, spec: kept.spec, isOutdated: moves, canaries: 0, replaceGate: NO_GATE, only: undefined },
    // What is left of the slot has no old copy: no gate of replacing applies.
    canary: { ...c, replaceGate: NO_GATE },
    draining,
  };
}

/**
 * One replica slot while a canary holds the rollout: its old copies are planned as copies of the
 * kept spec (keptSpec: a drained one moves, one lost is made again), its canary as the new one's.
 */
export function planHeldSlot(h: HeldPlan, index: number, slot: Instance[], lost: boolean): void {
  const { out, workload, canaries, isOutdated } = h.canary;
  // Of an older template: a copy of the current one restarted is the canary's to replace.
  const old = slot.filter((i) => !runsCurrentTemplate(workload, i));
  planSlot(h.old, index, old, lost);
  const waiting = old.find((i) => i.state !== "failed");
  if (waiting !== undefined) out.skip.push({ workload: workload.name, instance: waiting.id, ...canaryGate(canaries, index)! });
  if (index >= canaries) return;
  // A canary replaced (drained, restarted) stops before it starts again: never more than `canary` new copies.
  const fresh = slot.filter((i) => runsCurrentTemplate(workload, i));
  for (const c of fresh) if (c.state !== "failed" && isOutdated(c)) out.stop.push({ instance: c.id, reason: onDrainingNode(h.draining, c) ? `node ${c.node} draining: the canary starts again elsewhere` : "rollout restart: the canary starts again" });
  planSlot(h.canary, index, fresh.filter((c) => c.state === "failed" || !isOutdated(c)), lost);
}

/** A new copy placed before any wave started opens the first (old copies moved do not). */
export function recordWave(out: Plan, pass: Pass, workload: Workload, waves: WaveOrder, placeBefore: number, scheduleBefore: number): void {
  const placedNew = out.place.slice(placeBefore).some((n) => n.generation === workload.generation) || out.schedule.slice(scheduleBefore).some((n) => runsCurrentTemplate(workload, pass.state.instances.get(n.instance)!));
  const moved = waves.started(placedNew);
  if (moved !== undefined) out.wave.push({ name: workload.name, wave: moved, waves: waves.count });
}

/** The gates of progressive delivery, whose holds are recorded (the budget's, every rollout's, are not). */
const DELIVERY_GATES: ReadonlySet<string> = new Set<GateName>(["canary", "soak", "wave", "paused"]);

/**
 * Which delivery gate holds the rollout is recorded when it changes: history explains each step.
 * A stall, recorded by rolloutMilestones, stands until the rollout is no longer stalled.
 */
export function recordDeliveryHold(out: Plan, workload: Workload, skipsBefore: number, stalled: boolean): void {
  let hold: Skip | undefined;
  for (let k = skipsBefore; k < out.skip.length && hold === undefined; k++) if (DELIVERY_GATES.has(out.skip[k]!.gate)) hold = out.skip[k];
  if (!stalled && (hold?.gate ?? "") !== workload.rolloutHold) out.held.push({ name: workload.name, gate: hold?.gate ?? "", reason: hold?.reason ?? "" });
}
