/**
 * The reconciler: diffs desired state (workloads) against observed state (instances, nodes)
 * and returns a Plan, one record of action buckets. PURE: (state, now, policy) → Plan.
 *
 * planToEvents (plan-to-events.ts) turns a plan into the events that record it and the
 * effects that carry it out. Planning again after applying those events, at the same `now`,
 * yields an empty plan.
 */
import { canaryGate, disruptionGate, pausedGate, quarantinesOf, type GateName, type Hold, parallelismGate, type QuarantinePolicy, restartGate, soakGate, surgeGate, ttlGate } from "./gates.js";
import { occupiesNode } from "../model/instance-machine.js";
import { waveOrder } from "./waves.js";
import { type BatchOutcome, type Capacity, type ClusterState, type Instance, instanceName, instanceSeq, instancesOfWorkload, STALLED, type Workload } from "../model/cluster-state.js";
import { availableAt, availableCanaries, countsAgainstSurge, holdsNode, isAvailable, isReady, qualifiesForSystem, rolloutStatus, runsCurrentTemplate, stallCause, waitingCanaries } from "../model/cluster-status.js";
import { type HealthThresholds, heardFrom, type NodeHealth, nodeHealth } from "../model/node-health.js";
import { type Choice, type NodeFilter, type PlacementStrategy, Placer } from "./placement.js";
import type { AssignedPort } from "../model/ports.js";
import { type ResolvedSpec, resolveSpec, sameTemplate } from "../model/spec.js";
import { keptTemplate, serves, stopFirst } from "./replacement.js";
import { reasonWithStderr } from "../output/stderr-tail.js";

export interface Policy extends HealthThresholds, QuarantinePolicy {
  placement: PlacementStrategy;
  /** How long a Lost instance stays visible before it is forgotten. */
  lostRetentionMs: number;
  /**
   * Node health is what was recorded (NodeHealthChanged), not judged from heartbeats: replay
   * of a log, which keeps no heartbeats, feeds the recorded changes in as inputs (what-if.ts).
   */
  recordedHealth?: boolean;
  /**
   * While none of two nodes or more is Ready, Offline nodes' copies are kept rather than lost:
   * the control plane cannot tell its own partition from theirs. Off where nodes are killed knowing they are gone
   * (sizing a fleet offline), so that a whole fleet's loss shows.
   */
  keepCopiesWhileNoNodeHeard: boolean;
}

export const DEFAULT_POLICY: Policy = {
  placement: "spread",
  suspectAfterMs: 3_000,
  offlineAfterMs: 5_000,
  // Agents come back within about a second of a restart (src/agent/control-stream.ts); the grace covers a slow
  // start with a large fleet reconnecting at once. A node that never returns is Offline
  // startGraceMs + offlineAfterMs after the start.
  startGraceMs: 10_000,
  crashLoopFailures: 5,
  crashLoopWindowMs: 60_000,
  quarantineMs: 300_000,
  lostRetentionMs: 300_000,
  keepCopiesWhileNoNodeHeard: true,
};

/** Why a new instance is created. */
export type PlaceCause = "new" | "restart" | "update" | "rollout" | "drain" | "lost";

export interface NewInstance {
  workload: string;
  index: number;
  generation: number;
  attempt: number;
  resources: Capacity;
  readinessChecks: string[];
  cause: PlaceCause;
}

export interface Plan {
  at: number;
  /** Node health changes detected from heartbeats. */
  health: Array<{ node: string; from: NodeHealth; to: NodeHealth }>;
  /** Instances on nodes that went Offline. */
  markLost: Array<{ instance: string; node: string }>;
  /** New instances, each with the node it goes to (and its ports there, when it asks for any). */
  place: Array<NewInstance & { node: string; ports?: AssignedPort[] }>;
  /** New instances no node can take yet; they are recorded as Pending. */
  pend: Array<NewInstance & { reason: string }>;
  /** Pending instances still unplaceable for another reason than the one recorded: the reason is recorded again. */
  waiting: Array<{ instance: string; reason: string }>;
  /** Existing Pending instances that a node can now take. */
  schedule: Array<{ instance: string; node: string; ports?: AssignedPort[] }>;
  /** Instances to stop. */
  stop: Array<{ instance: string; reason: string }>;
  /** Stopped (or long-Lost) instances to drop from the view; their history stays in the log. */
  forget: Array<{ instance: string }>;
  /** Deleted workloads whose instances are all gone. */
  removeWorkload: Array<{ name: string }>;
  /** Batch workloads that are now Complete or Failed. */
  finish: Array<{ name: string } & Omit<BatchOutcome, "at">>;
  /** Finished batch workloads whose ttl_after_finished passed: they are deleted. */
  expire: Array<{ name: string }>;
  /** Rollouts whose canaries have all been available long enough (auto_promote). */
  promote: Array<{ name: string }>;
  /** Rollouts now complete: every replica has an available copy of the current template. */
  complete: Array<{ name: string; generation: number }>;
  /** Rollouts that failed under auto_revert: back to the last completed spec. */
  revert: Array<{ name: string; reason: string }>;
  /** Rollouts past their progress deadline that nothing reverts: recorded once, they go on trying. */
  stalled: Array<{ name: string; generation: number; reason: string }>;
  /** Rollouts moving on to their next wave (update.waves). */
  wave: Array<{ name: string; wave: number; waves: number }>;
  /** Rollouts whose holding delivery gate changed (gate "": none holds any more). */
  held: Array<{ name: string; gate: string; reason: string }>;
  /** What was held back, and why. Not a change. */
  skip: Skip[];
}

/** Something the reconciler could not do yet: held by a gate, unplaceable, or waiting on a node. */
export interface Skip {
  gate: GateName | "unplaceable" | "node-unreachable";
  reason: string;
  workload?: string;
  instance?: string;
  node?: string;
  until?: number;
}

/**
 * The buckets of actions. `waiting` is not one: a Pending copy's reason recorded again moves
 * nothing, and a placement later in the same pass may change it (the fleet filled up), so a
 * plan with only reasons to record counts as converged.
 */
const BUCKETS = ["health", "markLost", "place", "pend", "schedule", "stop", "forget", "removeWorkload", "finish", "expire", "promote", "complete", "revert", "stalled", "wave", "held"] as const;

export function emptyPlan(at: number): Plan {
  return { at, health: [], markLost: [], place: [], pend: [], waiting: [], schedule: [], stop: [], forget: [], removeWorkload: [], finish: [], expire: [], promote: [], complete: [], revert: [], stalled: [], wave: [], held: [], skip: [] };
}

/** True when the plan asks for no change. Skips are not changes, nor Pending reasons to record again. */
export function isEmptyPlan(plan: Plan): boolean {
  return BUCKETS.every((b) => plan[b].length === 0);
}

/**
 * When planning next could decide something new without any input arriving: a node's
 * silence crossing a health threshold, or a gate's hold expiring. Undefined when nothing is
 * pending. The writer wakes up then instead of waiting for its periodic tick.
 */
export function nextWakeup(state: ClusterState, policy: Policy, last: Plan | undefined): number | undefined {
  let at = Number.POSITIVE_INFINITY;
  for (const node of state.nodes.values()) {
    const from = heardFrom(node, state.listeningSince, policy);
    if (node.health === "ready") at = Math.min(at, from + policy.suspectAfterMs + 1);
    else if (node.health === "suspect") at = Math.min(at, from + policy.offlineAfterMs + 1);
  }
  for (const s of last?.skip ?? []) if (s.until !== undefined) at = Math.min(at, s.until);
  return Number.isFinite(at) ? at : undefined;
}

/** One line with the count of each bucket. */
export function summarize(plan: Plan): string {
  const parts = BUCKETS.filter((b) => plan[b].length > 0).map((b) => `${b}=${plan[b].length}`);
  if (plan.waiting.length > 0) parts.push(`waiting=${plan.waiting.length}`);
  if (plan.skip.length > 0) parts.push(`skip=${plan.skip.length}`);
  return isEmptyPlan(plan) ? `converged${plan.skip.length > 0 ? ` (${plan.skip.length} held)` : ""}` : parts.join(" ");
}

interface WorkloadView {
  /** Replica indexes whose instance was lost: their replacements are placed with cause "lost" (made when needed). */
  lostSlots?: Set<number>;
  /** Batch: indexes whose run of the current template succeeded (made when needed). */
  succeeded?: Set<number>;
  /** Desired-run instances that are not stopped or lost. */
  running: Instance[];
  /** Instances counted against replicas + max_surge (see countsAgainstSurge). */
  nonTerminal: number;
  /** Instances still holding a node (for removing a deleted workload). */
  holding: number;
}

/** Diffs desired against observed. Never mutates `state`. */
export function plan(state: ClusterState, now: number, policy: Policy = DEFAULT_POLICY): Plan {
  const out = emptyPlan(now);

  const health = new Map<string, NodeHealth>();
  /** Nodes being drained: their copies count as outdated. Usually none, so the check is free. */
  const draining = new Set<string>();
  for (const node of state.nodes.values()) {
    const h = policy.recordedHealth ? node.health : nodeHealth(node, now, policy, state.listeningSince);
    health.set(node.name, h);
    if (node.draining) draining.add(node.name);
    if (h !== node.health) out.health.push({ node: node.name, from: node.health, to: h });
  }

  // A control plane that hears none of several nodes cannot tell its own partition from
  // theirs, and a copy marked lost would have nowhere to go: while no node is Ready, Offline
  // nodes' copies are kept (Kubernetes' node controller stops evicting in a full disruption for
  // the same reason). A single node's copies are lost as usual: their Pending replacements can
  // only go back to it, and its return takes them back (reclaim).
  const fleetHeard = !policy.keepCopiesWhileNoNodeHeard || health.size < 2 || [...health.values()].some((h) => h === "ready");

  const views = new Map<string, WorkloadView>();
  const view = (name: string) => {
    let v = views.get(name);
    if (!v) views.set(name, (v = { running: [], nonTerminal: 0, holding: 0 }));
    return v;
  };
  const lostSlot = (inst: Instance) => {
    const v = view(inst.workload);
    (v.lostSlots ??= new Set()).add(inst.index);
  };
  const released = new Set<string>();
  for (const inst of state.instances.values()) {
    if (inst.state === "stopped") {
      out.forget.push({ instance: inst.id });
      continue;
    }
    if (inst.state === "succeeded") {
      // A batch remembers its done runs while it exists and they are of its current template.
      const w = state.workloads.get(inst.workload);
      if (w === undefined || w.deleting || !runsCurrentTemplate(w, inst)) out.forget.push({ instance: inst.id });
      else (view(inst.workload).succeeded ??= new Set()).add(inst.index);
      continue;
    }
    if (inst.state === "lost") {
      lostSlot(inst);
      if (now - inst.updatedAt >= policy.lostRetentionMs || !state.workloads.has(inst.workload)) out.forget.push({ instance: inst.id });
      continue;
    }
    if (inst.node !== null && occupiesNode(inst.state)) {
      const h = health.get(inst.node);
      if (h === "offline" && !fleetHeard) {
        out.skip.push({ gate: "node-unreachable", node: inst.node, instance: inst.id, workload: inst.workload, reason: "node Offline, but no node is heard: the control plane may be the one cut off" });
      } else if (h === "offline") {
        out.markLost.push({ instance: inst.id, node: inst.node });
        released.add(inst.id);
        lostSlot(inst);
        continue;
      }
      // Late heartbeats: leave its instances alone until the node is Offline or back.
      if (h === "suspect") out.skip.push({ gate: "node-unreachable", node: inst.node, instance: inst.id, workload: inst.workload, reason: "node Suspect" });
    }
    const v = view(inst.workload);
    if (countsAgainstSurge(inst)) v.nonTerminal++;
    if (inst.state !== "pending") v.holding++;
    if (inst.desired === "stop") {
      // A stop that failed is retried; a stop in flight is left alone.
      if (inst.state === "failed") out.stop.push({ instance: inst.id, reason: inst.reason });
      continue;
    }
    v.running.push(inst);
  }

  const pass: Pass = { state, health, draining, placer: new Placer(state, health, now, policy.placement, policy, released), now, quarantine: policy };
  const names = [...state.workloads.keys()].sort();
  for (const name of names) {
    const workload = state.workloads.get(name)!;
    planWorkload(out, pass, workload, views.get(name) ?? { running: [], nonTerminal: 0, holding: 0 });
  }
  return out;
}

/** What every workload's planning in one pass reads. */
interface Pass {
  state: ClusterState;
  /** Node health as this pass judges it. */
  health: ReadonlyMap<string, NodeHealth>;
  /** Nodes being drained. */
  draining: ReadonlySet<string>;
  placer: Placer;
  now: number;
  /** When a workload crash-loops on a node (auto_revert then does not wait for the deadline). */
  quarantine: QuarantinePolicy;
  /** Draining nodes where only system workloads' copies are left (made on first use). */
  systemOnly?: Set<string>;
}

function planWorkload(out: Plan, pass: Pass, workload: Workload, v: WorkloadView): void {
  // In id order, each id parsed once: a large workload's sort would otherwise parse ids n log n
  // times. One copy (most workloads) is in order already: no parse, no allocation.
  if (v.running.length > 1) {
    const keyed = v.running.map((i) => ({ i, seq: instanceSeq(i.id) })).sort((a, b) => a.seq - b.seq);
    keyed.forEach((k, j) => (v.running[j] = k.i));
  }
  const insts = v.running;
  if (workload.deleting) {
    for (const inst of insts) out.stop.push({ instance: inst.id, reason: "workload deleted" });
    // Pending ones are dropped at once; the rest hold their node until they report stopped.
    if (v.holding === 0) out.removeWorkload.push({ name: workload.name });
    return;
  }
  // Where its current spec is quarantined, placement avoids: the plan says so, and the writer
  // wakes when it ends. Only a workload with failures recorded is looked at.
  if (pass.state.crashes.has(workload.name)) {
    for (const q of quarantinesOf(pass.state, workload.name, pass.now, pass.quarantine)) out.skip.push({ workload: workload.name, node: q.node, gate: "quarantine", reason: `${q.reason}: no copy is placed on ${q.node}`, until: q.until });
  }
  const spec = resolveSpec(workload.spec);
  if (spec.kind === "system") return planSystem(out, pass, workload, spec, insts);
  if (spec.kind === "batch") return planBatch(out, pass, workload, spec, v);
  const { placer, draining, now } = pass;
  const isOutdated = (i: Instance) =>
    !runsCurrentTemplate(workload, i) ||
    // restartSeq 0 (never restarted) is the common case: skip parsing the id.
    (workload.restartSeq > 0 && instanceSeq(i.id) < workload.restartSeq) ||
    (draining.size > 0 && i.node !== null && draining.has(i.node));
  const skipsBefore = out.skip.length;
  const milestones = rolloutMilestones(out, pass, workload, spec, insts);
  // Reverting: the next pass plans for the restored spec; this one changes nothing more.
  if (milestones === undefined) return;
  const canary = milestones.canaries;
  if (isSteady(insts, spec.replicas, isOutdated)) return;
  const slots = new Map<number, Instance[]>();
  for (const inst of insts) {
    if (inst.index >= spec.replicas) {
      out.stop.push({ instance: inst.id, reason: `scaled down to ${spec.replicas}` });
      continue;
    }
    let slot = slots.get(inst.index);
    if (!slot) slots.set(inst.index, (slot = []));
    slot.push(inst);
  }
  let available = 0;
  // Only available copies count (Ready, and soaked for min_healthy_time): a rollout or drain
  // waits for its replacements' checks and soak.
  for (const slot of slots.values()) if (slot.some((i) => isAvailable(i, spec.minHealthyMs, now))) available++;
  const budget = { nonTerminal: v.nonTerminal, available };
  // A rollout (a changed template, a restart) replaces old copies wave by wave; a drain does not wait.
  const rolledOut = (i: Instance) => i.state !== "failed" && (!runsCurrentTemplate(workload, i) || (workload.restartSeq > 0 && instanceSeq(i.id) < workload.restartSeq));
  const waves = spec.waves.length > 0 ? waveOrder(pass.state, workload, spec.replicas, spec.waves, insts.filter(rolledOut), insts.filter((i) => i.state !== "failed" && !isOutdated(i)), spec.minHealthyMs, now) : undefined;
  const replaceGate = (old: Instance): Hold | undefined => pausedGate(workload.paused) ?? (rolledOut(old) ? waves?.gate(old) : undefined);

  const placeBefore = out.place.length;
  const scheduleBefore = out.schedule.length;
  const kept = canary > 0 ? keptTemplate(workload, spec) : undefined;
  for (let index = 0; index < spec.replicas; index++) {
    const slot = slots.get(index) ?? [];
    const lost = v.lostSlots?.has(index) === true;
    if (kept === undefined) planSlot(out, placer, workload, spec, index, slot, isOutdated, budget, now, lost, canary, replaceGate, waves?.placement);
    else planHeldSlot(out, pass, workload, spec, kept, index, slot, isOutdated, budget, lost, canary, waves?.placement);
  }
  // A new copy placed before any wave started opens the first (old copies moved do not).
  const placedNew = () => out.place.slice(placeBefore).some((n) => n.generation === workload.generation) || out.schedule.slice(scheduleBefore).some((n) => runsCurrentTemplate(workload, pass.state.instances.get(n.instance)!));
  const moved = waves?.started(placedNew());
  if (moved !== undefined) out.wave.push({ name: workload.name, wave: moved, waves: waves!.count });
  // Which delivery gate holds the rollout is recorded when it changes: history explains each step.
  let hold: Skip | undefined;
  for (let k = skipsBefore; k < out.skip.length && hold === undefined; k++) if (DELIVERY_GATES.has(out.skip[k]!.gate)) hold = out.skip[k];
  // A stall, recorded by rolloutMilestones, stands until the rollout is no longer stalled.
  if (!milestones.stalled && (hold?.gate ?? "") !== workload.rolloutHold) out.held.push({ name: workload.name, gate: hold?.gate ?? "", reason: hold?.reason ?? "" });
}

/**
 * One replica slot while a canary holds the rollout: its old copies are planned as copies of the
 * kept spec (keptSpec: a drained one moves, one lost is made again), its canary as the new one's.
 */
function planHeldSlot(
  out: Plan,
  pass: Pass,
  workload: Workload,
  spec: ResolvedSpec,
  kept: { workload: Workload; spec: ResolvedSpec },
  index: number,
  slot: Instance[],
  isOutdated: (i: Instance) => boolean,
  budget: Budget,
  lost: boolean,
  canary: number,
  only: NodeFilter | undefined,
): void {
  const { placer, draining, now } = pass;
  const drained = (i: Instance) => draining.size > 0 && i.node !== null && draining.has(i.node);
  const old = slot.filter((i) => !runsCurrentTemplate(workload, i));
  // One of a spec superseded before it was placed is not started as the kept one.
  const moves = (i: Instance) => drained(i) || (i.state === "pending" && i.generation !== kept.workload.generation);
  planSlot(out, placer, kept.workload, kept.spec, index, old, moves, budget, now, lost, 0, () => undefined, undefined);
  const waiting = old.find((i) => i.state !== "failed");
  if (waiting !== undefined) out.skip.push({ workload: workload.name, instance: waiting.id, ...canaryGate(canary, index)! });
  if (index >= canary) return;
  // A canary replaced (drained, restarted) stops before it starts again: never more than `canary` new copies.
  const fresh = slot.filter((i) => runsCurrentTemplate(workload, i));
  for (const c of fresh) if (c.state !== "failed" && isOutdated(c)) out.stop.push({ instance: c.id, reason: drained(c) ? `node ${c.node} draining: the canary starts again elsewhere` : "rollout restart: the canary starts again" });
  // What is left of the slot has no old copy: no gate of replacing applies.
  planSlot(out, placer, workload, spec, index, fresh.filter((c) => c.state === "failed" || !isOutdated(c)), isOutdated, budget, now, lost, canary, () => undefined, only);
}

/** The gates of progressive delivery, whose holds are recorded (the budget's, every rollout's, are not). */
const DELIVERY_GATES: ReadonlySet<string> = new Set<GateName>(["canary", "soak", "wave", "paused"]);

/**
 * A service's rollout milestones, decided before its slots: complete (every replica has an
 * available copy of the current template: what auto_revert goes back to from now on), failed
 * under auto_revert (not complete within progress_deadline: back to the last completed spec),
 * stalled (past the deadline with nothing to revert it: recorded once), promoted by
 * auto_promote (every canary available). Returns how many slots are canaries waiting for
 * promotion (0 when no rollout waits at its canaries) and whether it is stalled, or undefined
 * when the rollout is reverted: nothing else of the workload is planned in that pass.
 */
function rolloutMilestones(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, insts: Instance[]): { canaries: number; stalled: boolean } | undefined {
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
  const soakEnds = spec.minHealthyMs === 0 ? [] : insts.flatMap((i) => (runsCurrentTemplate(workload, i) && !isAvailable(i, spec.minHealthyMs, now) ? (availableAt(i, spec.minHealthyMs) ?? []) : []));
  if (soakEnds.length > 0) out.skip.push({ workload: workload.name, gate: "soak", reason: `new copies soaking for min_healthy_time ${spec.minHealthyMs / 1000}s`, until: Math.min(...soakEnds) });
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

/** A copy of the workload's current template, not replaced by a restart. */
function outdatedBy(workload: Workload): (i: Instance) => boolean {
  return (i) => !runsCurrentTemplate(workload, i) || (workload.restartSeq > 0 && instanceSeq(i.id) < workload.restartSeq);
}

/** The newest failed copy, by id. */
function newestFailure(copies: Instance[]): Instance | undefined {
  return copies.reduce<Instance | undefined>((a, b) => (b.state !== "failed" ? a : a === undefined || instanceSeq(b.id) > instanceSeq(a.id) ? b : a), undefined);
}

/** A new copy of `index`, as the plan records it. */
function freshCopy(workload: Workload, spec: ResolvedSpec, index: number, attempt: number, cause: PlaceCause): NewInstance {
  return { workload: workload.name, index, generation: workload.generation, attempt, resources: { cpuMillis: spec.cpuMillis, memoryMb: spec.memoryMb }, readinessChecks: spec.readinessChecks, cause };
}

/**
 * A system workload: one copy on every node that qualifies (qualifiesForSystem) and has room
 * for it, none elsewhere. A copy stays with its node: when the node goes Offline it is Lost
 * with it, never replaced on another. On a draining node its copy is stopped last, once no
 * other workload's copy holds the node; on a cordoned one it keeps running. A changed template
 * is rolled node by node: the old copy is stopped under the disruption budget (of the nodes
 * that qualify) and the node then gets a new one.
 */
function planSystem(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, insts: Instance[]): void {
  const { state, health, placer, now } = pass;
  const stop = (i: Instance, reason: string) => out.stop.push({ instance: i.id, reason });
  const hold = (h: Hold | Skip, instance?: string, node?: string) => out.skip.push({ workload: workload.name, instance, node, ...h });
  const byNode = new Map<string, Instance[]>();
  for (const inst of insts) {
    if (inst.node === null) {
      stop(inst, "a system workload's copy belongs to a node");
      continue;
    }
    let copies = byNode.get(inst.node);
    if (!copies) byNode.set(inst.node, (copies = []));
    copies.push(inst);
  }
  const qualifying = [...state.nodes.values()].filter((n) => qualifiesForSystem(n, health.get(n.name), spec)).map((n) => n.name).sort();
  const wanted = new Set(qualifying);
  // Copies on nodes that no longer want one. What runs on a node not heard lately (late
  // heartbeats, a control plane just restarted) or cordoned (which only keeps new work away)
  // stays; on a draining node it goes last; where the node no longer matches, it goes.
  for (const [node, copies] of byNode) {
    if (wanted.has(node)) continue;
    const record = state.nodes.get(node);
    if (record === undefined || !record.connected || health.get(node) !== "ready") continue;
    if (record.draining) {
      if (!onlySystemCopiesOn(pass, node)) {
        for (const c of copies) hold({ gate: "cordon", reason: "draining: a system copy is stopped once the node's other copies are gone" }, c.id, node);
        continue;
      }
      for (const c of copies) stop(c, "node drained");
      continue;
    }
    if (!record.schedulable) {
      // Cordoned: one copy stays as it is (the current one, if there is one).
      const keep = copies.find((c) => c.state !== "failed" && !outdatedBy(workload)(c)) ?? copies.find((c) => c.state !== "failed");
      for (const c of copies) if (c !== keep) stop(c, c.state === "failed" ? c.reason : `duplicate of ${keep!.id}`);
      continue;
    }
    for (const c of copies) stop(c, `node ${node} no longer qualifies (node_selector, executor)`);
  }
  // A node whose old copy is still stopping gets its new one after: never two on a node.
  const stopping = new Map<string, string>();
  for (const i of instancesOfWorkload(state, workload.name)) if (i.desired === "stop" && i.node !== null && holdsNode(i)) stopping.set(i.node, i.id);

  const isOutdated = outdatedBy(workload);
  // The disruption budget counts the nodes that qualify, each available while its copy is Ready.
  let available = qualifying.filter((n) => byNode.get(n)?.some(isReady) === true).length;
  const budget = { ...spec, replicas: qualifying.length };
  const used = new Set(instancesOfWorkload(state, workload.name).map((i) => i.index));
  let nextIndex = 0;
  const newIndex = () => {
    while (used.has(nextIndex)) nextIndex++;
    used.add(nextIndex);
    return nextIndex;
  };
  for (const node of qualifying) {
    const copies = byNode.get(node) ?? [];
    const failed = copies.filter((i) => i.state === "failed");
    const live = copies.filter((i) => i.state !== "failed");
    const current = live.filter((i) => !isOutdated(i));
    const outdated = live.filter(isOutdated);
    if (current.length > 0) {
      for (const dup of current.slice(1)) stop(dup, `duplicate of ${current[0]!.id}`);
      for (const o of outdated) stop(o, `replaced by ${current[0]!.id}`);
      for (const f of failed) stop(f, f.reason);
      continue;
    }
    if (outdated.length > 0) {
      const [old, ...extra] = outdated;
      for (const o of extra) stop(o, "duplicate");
      for (const f of failed) stop(f, f.reason);
      const cause = !runsCurrentTemplate(workload, old!) ? "update" : "rollout";
      if (isReady(old!)) {
        const refused = disruptionGate(available, budget);
        if (refused) {
          hold(refused, old!.id, node);
          continue;
        }
        available--;
      }
      stop(old!, `${cause}: making room for generation ${workload.generation}`);
      continue;
    }
    const leaving = stopping.get(node);
    if (leaving !== undefined) {
      hold({ gate: "surge", reason: `a system workload has one copy a node: waiting for ${leaving} to stop` }, undefined, node);
      continue;
    }
    const lastFailure = newestFailure(failed.filter((f) => runsCurrentTemplate(workload, f)));
    let attempt = 0;
    let cause: PlaceCause = "new";
    if (lastFailure !== undefined) {
      const held = restartGate(lastFailure, spec, now);
      if (held) {
        hold(held, lastFailure.id, node);
        continue;
      }
      attempt = nextAttempt(lastFailure, spec);
      cause = "restart";
    }
    const index = lastFailure?.index ?? newIndex();
    const choice = placer.chooseOn(node, workload.name, spec, instanceName(workload.name, index));
    if (!("node" in choice)) {
      if (lastFailure === undefined) used.delete(index);
      hold({ gate: "unplaceable", reason: choice.reason }, undefined, node);
      continue;
    }
    out.place.push({ ...freshCopy(workload, spec, index, attempt, cause), ...placed(choice) });
    for (const f of failed) stop(f, f.reason);
  }
}

/** Whether every copy still holding a draining node is a system workload's (made once per pass). */
function onlySystemCopiesOn(pass: Pass, node: string): boolean {
  if (pass.systemOnly === undefined) {
    const blocked = new Set<string>();
    for (const inst of pass.state.instances.values()) {
      if (inst.node === null || !pass.draining.has(inst.node) || !holdsNode(inst)) continue;
      const w = pass.state.workloads.get(inst.workload);
      if (w === undefined || resolveSpec(w.spec).kind !== "system") blocked.add(inst.node);
    }
    pass.systemOnly = new Set([...pass.draining].filter((n) => !blocked.has(n)));
  }
  return pass.systemOnly.has(node);
}

/**
 * A batch workload: index 0..completions-1 each runs until one copy of it succeeds (exits 0),
 * at most `parallelism` at once. A failed run is retried after the restart backoff; once the
 * failures exceed backoff_limit the workload is Failed, and once every index succeeded it is
 * Complete. A finished workload runs nothing more and is deleted after ttl_after_finished. A
 * run on a draining node is stopped and its index runs again elsewhere.
 */
function planBatch(out: Plan, pass: Pass, workload: Workload, spec: ResolvedSpec, v: WorkloadView): void {
  const { placer, now } = pass;
  const stop = (i: Instance, reason: string) => out.stop.push({ instance: i.id, reason });
  const hold = (h: Hold | Skip, instance?: string) => out.skip.push({ workload: workload.name, instance, ...h });
  const insts = v.running;
  if (workload.finished !== null) {
    for (const inst of insts) stop(inst, inst.state === "failed" ? inst.reason : `${workload.name} is ${workload.finished.outcome}`);
    if (spec.ttlAfterFinishedMs === undefined) return;
    const held = ttlGate(workload.finished, spec, now);
    if (held) hold(held);
    else out.expire.push({ name: workload.name });
    return;
  }
  const completions = spec.replicas;
  const succeeded = v.succeeded ?? new Set<number>();
  let done = 0;
  for (const index of succeeded) if (index < completions) done++;
  if (done >= completions) {
    out.finish.push({ name: workload.name, outcome: "complete", reason: `${done} of ${completions} succeeded` });
    return;
  }
  if (workload.failures > spec.backoffLimit) {
    const last = newestFailure(insts);
    out.finish.push({ name: workload.name, outcome: "failed", reason: `backoff limit ${spec.backoffLimit} reached (${workload.failures} failed runs)${last ? `: ${reasonWithStderr(last.reason, last.stderrTail)}` : ""}` });
    return;
  }
  const outdated = outdatedBy(workload);
  const drained = (i: Instance) => pass.draining.size > 0 && i.node !== null && pass.draining.has(i.node);
  // A run on a draining node is stopped and its index runs again elsewhere (not a failure).
  const isOutdated = (i: Instance) => outdated(i) || drained(i);
  const slots = new Map<number, Instance[]>();
  for (const inst of insts) {
    if (inst.index >= completions) {
      stop(inst, `completions lowered to ${completions}`);
      continue;
    }
    let slot = slots.get(inst.index);
    if (!slot) slots.set(inst.index, (slot = []));
    slot.push(inst);
  }
  let active = 0;
  for (const [index, slot] of slots) if (!succeeded.has(index) && slot.some((i) => i.state !== "failed")) active++;
  let parallelismHeld = false;
  for (let index = 0; index < completions; index++) {
    const slot = slots.get(index) ?? [];
    if (succeeded.has(index)) {
      for (const i of slot) stop(i, i.state === "failed" ? i.reason : `${instanceName(workload.name, index)} already succeeded`);
      continue;
    }
    const failed = slot.filter((i) => i.state === "failed");
    const live = slot.filter((i) => i.state !== "failed");
    for (const o of live.filter(isOutdated)) stop(o, drained(o) ? `node ${o.node} draining: this index runs again elsewhere` : `update: generation ${workload.generation} runs this index again`);
    const current = live.filter((i) => !isOutdated(i));
    if (current.length > 0) {
      const keep = current[0]!;
      for (const dup of current.slice(1)) stop(dup, `duplicate of ${keep.id}`);
      for (const f of failed) stop(f, f.reason);
      if (keep.state === "pending") {
        const choice = placer.choose(workload.name, spec, keep.name);
        if ("node" in choice) out.schedule.push({ instance: keep.id, ...placed(choice) });
        else waitPending(out, keep, choice.reason);
      }
      continue;
    }
    // An outdated run still stopping holds its index (and counts as running) until it is gone.
    if (live.length > 0) continue;
    const refused = parallelismGate(active, spec);
    if (refused) {
      if (!parallelismHeld) hold(refused);
      parallelismHeld = true;
      continue;
    }
    const lastFailure = newestFailure(failed.filter((f) => runsCurrentTemplate(workload, f)));
    if (lastFailure !== undefined) {
      const held = restartGate(lastFailure, spec, now);
      if (held) {
        hold(held, lastFailure.id);
        continue;
      }
    }
    const n = freshCopy(workload, spec, index, lastFailure === undefined ? 0 : lastFailure.attempt + 1, lastFailure !== undefined ? "restart" : v.lostSlots?.has(index) ? "lost" : "new");
    const choice = placer.choose(workload.name, spec, instanceName(workload.name, index));
    if ("node" in choice) out.place.push({ ...n, ...placed(choice) });
    else out.pend.push({ ...n, reason: choice.reason });
    for (const f of failed) stop(f, f.reason);
    active++;
  }
}

/**
 * A Pending copy no node takes this pass: held, and its reason recorded again when it changed,
 * so what `get instances` says is why it waits now, not why it waited when created.
 */
function waitPending(out: Plan, inst: Instance, reason: string): void {
  out.skip.push({ gate: "unplaceable", reason, workload: inst.workload, instance: inst.id });
  if (reason !== inst.reason) out.waiting.push({ instance: inst.id, reason });
}

/** A node choice as a plan records it: `ports` only when the copy has any, so plans of port-less workloads keep their shape. */
function placed(choice: Extract<Choice, { node: string }>): { node: string; ports?: AssignedPort[] } {
  return choice.ports === undefined ? { node: choice.node } : { node: choice.node, ports: choice.ports };
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

interface Budget {
  nonTerminal: number;
  available: number;
}

/** Decides one replica slot: keep, schedule, replace, or hold. */
function planSlot(
  out: Plan,
  placer: Placer,
  workload: Workload,
  spec: ResolvedSpec,
  index: number,
  slot: Instance[],
  isOutdated: (i: Instance) => boolean,
  budget: Budget,
  now: number,
  lost: boolean,
  /** Slots that are canaries of a rollout waiting for promotion; 0: none waits. */
  canaries: number,
  /** Whether an old copy may be replaced now (pause, waves); a hold if not. */
  replaceGate: (old: Instance) => Hold | undefined,
  /** Where its new copies may go (a rollout's started waves); undefined: wherever they fit. */
  only: NodeFilter | undefined,
): void {
  // The steady state, most slots on most passes: one current copy, placed and not failed.
  // The general path below decides the same (keep it, nothing else to do) after allocating.
  if (slot.length === 1 && slot[0]!.state !== "failed" && slot[0]!.state !== "pending" && !isOutdated(slot[0]!)) return;
  const stop = (i: Instance, reason: string) => out.stop.push({ instance: i.id, reason });
  const hold = (h: Hold | Skip, instance?: string) => out.skip.push({ workload: workload.name, instance, ...h });
  const fresh = (attempt: number, cause: PlaceCause): NewInstance => ({
    workload: workload.name,
    index,
    generation: workload.generation,
    attempt,
    resources: { cpuMillis: spec.cpuMillis, memoryMb: spec.memoryMb },
    readinessChecks: spec.readinessChecks,
    cause,
  });

  /** Why the last create(…, placedOnly) found no node. */
  let unplaced = "";
  /**
   * Places a new instance if the surge budget allows (a canary is beside the budget); true when
   * one was created. One that fits nowhere is Pending: `replacing`, its slot's old copy, may be
   * stopped first to make room for it; with `placedOnly` it is not created (unplaced says why).
   */
  const create = (n: NewInstance, canary = index < canaries, replacing?: Instance, placedOnly = false): boolean => {
    const refused = canary ? undefined : surgeGate(budget.nonTerminal, spec);
    if (refused) {
      hold(refused);
      return false;
    }
    const choice = placer.choose(workload.name, spec, instanceName(workload.name, index), only);
    if (placedOnly && !("node" in choice)) {
      unplaced = choice.reason;
      return false;
    }
    budget.nonTerminal++;
    if ("node" in choice) out.place.push({ ...n, ...placed(choice) });
    else out.pend.push({ ...n, reason: replacing === undefined ? choice.reason : stopFirst(out, { placer, workload, spec, budget, now, only }, replacing, n.cause, choice.reason) });
    return true;
  };

  // No copy at all, as for every new replica: the general path below comes to the same.
  if (slot.length === 0) {
    create(fresh(0, lost ? "lost" : "new"));
    return;
  }
  const failed = slot.filter((i) => i.state === "failed");
  const live = slot.filter((i) => i.state !== "failed");
  const current = live.filter((i) => !isOutdated(i));
  const outdated: Instance[] = [];
  for (const i of live) {
    if (!isOutdated(i)) continue;
    if (i.state !== "pending") outdated.push(i);
    else {
      // Never placed, it serves nothing: it goes at once (never two Pending rows for a slot).
      stop(i, `update: generation ${workload.generation} replaces it`);
      budget.nonTerminal--;
    }
  }
  // The slot's restart backoff: its newest failure of the current template holds whichever copy
  // comes next, beside an old copy or not (a changed template starts at once).
  const lastFailure = newestFailure(failed.filter((f) => runsCurrentTemplate(workload, f)));

  // Of several current copies (a held canary's slot keeps old copies of more than one spec),
  // the one serving best stays.
  if (current.length > 1) current.sort((a, b) => serves(b, spec.minHealthyMs, now) - serves(a, spec.minHealthyMs, now));
  const keep = current[0];
  for (const dup of current.slice(1)) stop(dup, `duplicate of ${keep!.id}`);
  if (keep !== undefined) {
    for (const f of failed) stop(f, f.reason);
    let unplaceable: string | undefined;
    if (keep.state === "pending") {
      const choice = placer.choose(workload.name, spec, keep.name, only);
      if ("node" in choice) out.schedule.push({ instance: keep.id, ...placed(choice) });
      else unplaceable = choice.reason;
    }
    if (outdated.length === 0) {
      if (unplaceable !== undefined) waitPending(out, keep, unplaceable);
      return;
    }
    // The old copies go once the new one is available (Ready and soaked): that is what keeps
    // the budget whole. A canary's old copy stays until the rollout is promoted.
    // A paused rollout does not finish a replacement either (a drain's does).
    const rollout = outdated.some((o) => !runsCurrentTemplate(workload, o) || instanceSeq(o.id) < workload.restartSeq);
    const canaryHold = canaryGate(canaries, index) ?? (rollout ? pausedGate(workload.paused) : undefined);
    const o = outdated[0]!;
    // Its new copy waits for room the old one holds: stop-then-start, as when it was created;
    // its reason says so.
    if (unplaceable !== undefined) {
      const stopsFirst = canaryHold === undefined && replaceGate(o) === undefined;
      waitPending(out, keep, stopsFirst ? stopFirst(out, { placer, workload, spec, budget, now, only }, o, runsCurrentTemplate(workload, o) ? "rollout" : "update", unplaceable) : unplaceable);
    }
    if (canaryHold) {
      hold(canaryHold, o.id);
      return;
    }
    if (!isReady(keep)) return;
    const soaking = soakGate(keep, spec.minHealthyMs, now);
    if (soaking) hold(soaking, outdated[0]!.id);
    else for (const o of outdated) stop(o, `replaced by ${keep.id}`);
    return;
  }

  if (outdated.length > 0) {
    // Of several old copies (specs applied in a row), the one serving best stays: stopping the
    // others leaves the slot served as it was, which the budget counted.
    const [old, ...extra] = outdated.length === 1 ? outdated : [...outdated].sort((a, b) => serves(b, spec.minHealthyMs, now) - serves(a, spec.minHealthyMs, now));
    for (const o of extra) stop(o, "duplicate");
    const backoff = lastFailure === undefined ? undefined : restartGate(lastFailure, spec, now);
    if (backoff) {
      hold(backoff, lastFailure!.id);
      return;
    }
    const attempt = lastFailure === undefined ? 0 : nextAttempt(lastFailure, spec);
    // The newest failure stays until its replacement is created: it holds the backoff.
    for (const f of failed) if (f !== lastFailure) stop(f, f.reason);
    const replaced = (created: boolean) => {
      if (created && lastFailure !== undefined) stop(lastFailure, lastFailure.reason);
    };
    const cause: PlaceCause = !runsCurrentTemplate(workload, old!) ? "update" : instanceSeq(old!.id) < workload.restartSeq ? "rollout" : "drain";
    if (canaries > 0 && cause === "update") {
      // Canaries start beside the old copies; the rest wait for the promotion.
      if (index < canaries) replaced(create(fresh(attempt, cause), true));
      else hold(canaryGate(canaries, index)!, old!.id);
      return;
    }
    const held = replaceGate(old!);
    if (held) {
      hold(held, old!.id);
      return;
    }
    if (surgeGate(budget.nonTerminal, spec) === undefined) {
      // Under the workload's own rules (maxPerNode, a hard spread) a surge copy may fit nowhere
      // until an old copy goes: a drain waits for room (its old copy stays where it serves); a
      // rollout stops the old copy first, as a full surge budget would.
      if (!spec.placement.ownCounts) {
        replaced(create(fresh(attempt, cause), false, old));
        return;
      }
      if (create(fresh(attempt, cause), false, old, true)) {
        replaced(true);
        return;
      }
      if (cause === "drain") {
        hold({ gate: "unplaceable", reason: `drain waits for room: ${unplaced}` }, old!.id);
        return;
      }
    }
    // A copy that is not Ready serves nothing: it goes at once. A Ready one serves, soaked or
    // not (a spec applied while the last one's copies soak, or one soaking the 10 s default
    // without checks), so it goes only within the budget.
    if (!isReady(old!)) {
      stop(old!, `${cause}: replaced`);
      return;
    }
    const soaked = isAvailable(old!, spec.minHealthyMs, now);
    const refused = disruptionGate(budget.available, spec, soaked);
    if (refused) {
      // Old copies soaking (this one too) count once available: the budget may allow it then.
      hold(soaked ? refused : { ...refused, until: availableAt(old!, spec.minHealthyMs) }, old!.id);
      return;
    }
    if (soaked) budget.available--;
    stop(old!, `${cause}: making room for generation ${workload.generation}`);
    return;
  }

  if (lastFailure === undefined) {
    // Only an older template's copies failed here: the changed one starts at once.
    if (create(fresh(0, lost ? "lost" : failed.length > 0 ? "update" : "new"))) for (const f of failed) stop(f, f.reason);
    return;
  }
  const held = restartGate(lastFailure, spec, now);
  if (held) {
    hold(held, lastFailure.id);
    return;
  }
  if (create(fresh(nextAttempt(lastFailure, spec), "restart"))) for (const f of failed) stop(f, f.reason);
}

/** The attempt a failed copy's replacement is: the next, unless it ran long enough before failing to start the backoff over. */
function nextAttempt(failed: Instance, spec: ResolvedSpec): number {
  const ranLong = failed.runningSince !== null && failed.failedAt! - failed.runningSince >= spec.restartResetMs;
  return ranLong ? 0 : failed.attempt + 1;
}
