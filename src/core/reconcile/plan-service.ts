/**
 * A service workload, planned by replica slot: its rollout's milestones first (plan-rollout.ts),
 * then each slot 0..replicas-1 (plan-slot.ts) under the budgets its slots share and the gates of
 * its rollout (pause, waves, a canary held), then what the rollout recorded. PURE.
 */
import { type Hold, pausedGate } from "./gates.js";
import type { Instance, Workload } from "../model/cluster-state.js";
import { availableAt, isAvailable, isReady } from "../model/cluster-status.js";
import type { ResolvedSpec } from "../model/spec.js";
import { awaitsRollout, bySlot, dueForReplacement, soakOf } from "./copies.js";
import type { Pass, WorkloadView } from "./pass.js";
import { heldPlan, planHeldSlot, recordDeliveryHold, recordWave, rolloutMilestones } from "./plan-rollout.js";
import { planSlot, type SlotPlan } from "./plan-slot.js";
import type { Plan } from "./reconcile.js";
import { keptTemplate, serves } from "./replacement.js";
import { waveOrder } from "./waves.js";

export function planService(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, v: WorkloadView): void {
  const { now } = pass;
  const insts = v.running;
  const isOutdated = dueForReplacement(workload, pass.draining);
  const skipsBefore = out.skip.length;
  const milestones = rolloutMilestones(out, pass, workload, spec, insts);
  // Reverting: the next pass plans for the restored spec; this one changes nothing more.
  if (milestones === undefined) return;
  const canary = milestones.canaries;
  if (isSteady(insts, spec.replicas, isOutdated)) return;
  const beyond: Instance[] = [];
  const slots = bySlot(insts, spec.replicas, (i) => beyond.push(i));
  const soak = soakOf(workload, spec);
  let available = 0;
  // Only available copies count (Ready, and soaked for min_healthy_time): a rollout or drain
  // waits for its replacements' checks and soak.
  for (const slot of slots.values()) if (slot.some((i) => isAvailable(i, soak(i), now))) available++;
  // A rollout (a changed template, a restart) replaces old copies wave by wave; a drain does not wait.
  const rolledOut = (i: Instance) => awaitsRollout(workload, i);
  const waves = spec.waves.length > 0 ? waveOrder(pass.state, workload, spec.replicas, spec.waves, insts.filter(rolledOut), insts.filter((i) => i.state !== "failed" && !isOutdated(i)), spec.minHealthyMs, now) : undefined;
  const replaceGate = (old: Instance): Hold | undefined => pausedGate(workload.paused) ?? (rolledOut(old) ? waves?.gate(old) : undefined);
  const c: SlotPlan = { out, placer: pass.placer, workload, spec, budget: { nonTerminal: v.nonTerminal, available }, now, only: waves?.placement, isOutdated, canaries: canary, replaceGate, soakOf: soak };
  if (beyond.length > 0) scaleDown(c, beyond, [...slots.values()].flat());

  const placeBefore = out.place.length;
  const scheduleBefore = out.schedule.length;
  const kept = canary > 0 ? keptTemplate(workload, spec) : undefined;
  const held = kept === undefined ? undefined : heldPlan(c, kept, pass.draining);
  for (let index = 0; index < spec.replicas; index++) {
    const slot = slots.get(index) ?? [];
    const lost = v.lostSlots?.has(index) === true;
    if (held === undefined) planSlot(c, index, slot, lost);
    else planHeldSlot(held, index, slot, lost);
  }
  if (waves !== undefined) recordWave(out, pass, workload, waves, placeBefore, scheduleBefore);
  recordDeliveryHold(out, workload, skipsBefore, milestones.stalled);
}

/**
 * The copies of slots past `replicas`: they go, but a Ready one only within the disruption budget
 * (as the ReplicaSet controller keeps Ready pods, and the deployment controller an old
 * ReplicaSet's within max_unavailable): while fewer than replicas − max_unavailable of the slots
 * kept have an available copy (a spec applied with fewer replicas whose copies crash or never
 * turn Ready, copies still soaking), the best serving of them stay to make up the difference.
 * They count in no slot's budget: they leave once the slots kept serve.
 */
function scaleDown(c: SlotPlan, beyond: Instance[], kept: Instance[]): void {
  const { out, workload, spec, budget } = c;
  const floor = spec.replicas - spec.maxUnavailable;
  const ready = beyond.filter(isReady).sort((a, b) => serves(b, c) - serves(a, c));
  const staying = new Set(ready.slice(0, Math.max(0, floor - budget.available)));
  // Copies of the slots kept that are Ready but soaking: the first to be available wakes the pass.
  const soakEnds = kept.flatMap((i) => (isReady(i) && !isAvailable(i, c.soakOf(i), c.now) ? (availableAt(i, c.soakOf(i)) ?? []) : []));
  const until = soakEnds.length > 0 ? { until: Math.min(...soakEnds) } : {};
  for (const i of beyond) {
    if (!staying.has(i)) out.stop.push({ instance: i.id, reason: `scaled down to ${spec.replicas}` });
    else out.skip.push({ workload: workload.name, instance: i.id, gate: "disruption", reason: `scaled down to ${spec.replicas}, kept while max_unavailable: ${budget.available} available, floor ${floor}`, ...until });
  }
}

/** Replica counts up to this take the steady-workload check (a bitmask of the slots seen). */
const STEADY_CHECK_MAX_REPLICAS = 31;

/**
 * The steady state, most workloads on most passes: one copy in each of the `replicas` slots,
 * each current, placed and not failed. planSlot keeps every such copy and does nothing else,
 * so the pass skips building the workload's slots and budget.
 */
function isSteady(insts: Instance[], replicas: number, isOutdated: (i: Instance) => boolean): boolean {
  if (insts.length !== replicas || replicas > STEADY_CHECK_MAX_REPLICAS) return false;
  let seen = 0;
  for (const i of insts) {
    const bit = 1 << i.index;
    if (i.index >= replicas || (seen & bit) !== 0 || i.state === "failed" || i.state === "pending" || isOutdated(i)) return false;
    seen |= bit;
  }
  return true;
}
