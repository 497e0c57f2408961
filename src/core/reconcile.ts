/**
 * The reconciler: diffs desired state (workloads) against observed state (instances, nodes)
 * and returns a Plan, one record of action buckets. PURE: (state, now, policy) → Plan.
 *
 * `commitPlan` turns a plan into the events that record it and the effects that carry it
 * out. Planning again after committing a plan yields an empty plan: the reconciler is
 * idempotent (test/core/reconcile.test.ts checks it directly and as a property).
 */
import type { Effect } from "./effects.js";
import { isLive } from "./instance-machine.js";
import { type ClusterEvent, type ClusterState, desiredReplicas, type Instance, instanceName, type NodeRecord, type Workload } from "./model.js";
import { type HealthThresholds, nodeHealth } from "./node-health.js";

export interface Policy extends HealthThresholds {
  /** Delay before replacing an instance that failed for the first time. */
  restartInitialBackoffMs: number;
  /** Upper bound of the exponential restart delay. */
  restartMaxBackoffMs: number;
  /** Time an instance gets between SIGTERM and SIGKILL. */
  stopGracePeriodMs: number;
}

export const DEFAULT_POLICY: Policy = {
  suspectAfterMs: 3_000,
  offlineAfterMs: 5_000,
  restartInitialBackoffMs: 1_000,
  restartMaxBackoffMs: 30_000,
  stopGracePeriodMs: 10_000,
};

export interface NewInstance {
  workload: string;
  index: number;
  generation: number;
  attempt: number;
}

export interface Plan {
  at: number;
  /** New instances, each with the node it goes to. */
  place: Array<NewInstance & { node: string }>;
  /** New instances no node can take yet; they are recorded as Pending. */
  pend: Array<NewInstance & { reason: string }>;
  /** Existing Pending instances that a node can now take. */
  schedule: Array<{ instance: string; node: string }>;
  /** Instances to stop. */
  stop: Array<{ instance: string; reason: string }>;
  /** Stopped instances to drop from the view (their history stays in the log). */
  forget: Array<{ instance: string }>;
  /** Deleted workloads whose instances are all gone. */
  removeWorkload: Array<{ name: string }>;
  /** Replacements held back by restart backoff, for information. */
  wait: Array<{ instance: string; until: number; reason: string }>;
}

function emptyPlan(at: number): Plan {
  return { at, place: [], pend: [], schedule: [], stop: [], forget: [], removeWorkload: [], wait: [] };
}

/** True when the plan asks for no change. Waits are not changes. */
export function isEmptyPlan(plan: Plan): boolean {
  return (
    plan.place.length + plan.pend.length + plan.schedule.length + plan.stop.length + plan.forget.length + plan.removeWorkload.length === 0
  );
}

/** One line with the count of each bucket. */
export function summarize(plan: Plan): string {
  if (isEmptyPlan(plan)) return plan.wait.length > 0 ? `converged (${plan.wait.length} waiting)` : "converged";
  const parts: string[] = [];
  for (const key of ["place", "pend", "schedule", "stop", "forget", "removeWorkload", "wait"] as const) {
    if (plan[key].length > 0) parts.push(`${key}=${plan[key].length}`);
  }
  return parts.join(" ");
}

/** Executor kind a workload needs. */
export function executorKind(workload: Workload): string {
  return workload.spec.image !== "" ? "docker" : "process";
}

/** Exponential restart delay for an instance that has failed `attempt + 1` times. */
export function restartBackoffMs(attempt: number, policy: Policy): number {
  return Math.min(policy.restartMaxBackoffMs, policy.restartInitialBackoffMs * 2 ** Math.min(attempt, 30));
}

/** Picks nodes for new work: spread over Ready nodes by instance count, ties by name. */
class Placer {
  private readonly candidates: NodeRecord[];
  private readonly load = new Map<string, number>();

  constructor(state: ClusterState, now: number, policy: Policy) {
    this.candidates = [...state.nodes.values()]
      .filter((n) => nodeHealth(n, now, policy) === "ready")
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const inst of state.instances.values()) {
      if (inst.node !== null && inst.desired === "run" && isLive(inst.state)) this.load.set(inst.node, (this.load.get(inst.node) ?? 0) + 1);
    }
  }

  /** The chosen node, or why none fits. Counts the placement for later choices in this pass. */
  choose(workload: Workload): { node: string } | { reason: string } {
    const kind = executorKind(workload);
    let best: NodeRecord | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const node of this.candidates) {
      if (!node.executors.includes(kind) && !node.executors.includes("simulated")) continue;
      const load = this.load.get(node.name) ?? 0;
      if (load < bestLoad) {
        best = node;
        bestLoad = load;
      }
    }
    if (best === undefined) {
      return { reason: this.candidates.length === 0 ? "no Ready node" : `no Ready node offers the ${kind} executor` };
    }
    this.load.set(best.name, bestLoad + 1);
    return { node: best.name };
  }
}

function byIdSeq(a: Instance, b: Instance): number {
  return Number(a.id.slice(a.id.lastIndexOf(".") + 1)) - Number(b.id.slice(b.id.lastIndexOf(".") + 1));
}

/** Diffs desired against observed. Never mutates `state`. */
export function plan(state: ClusterState, now: number, policy: Policy = DEFAULT_POLICY): Plan {
  const out = emptyPlan(now);
  const placer = new Placer(state, now, policy);
  const byWorkload = new Map<string, Instance[]>();
  /** Per workload, instances that still hold a node (neither Pending nor Stopped). */
  const holding = new Map<string, number>();
  for (const inst of state.instances.values()) {
    if (inst.state !== "stopped" && inst.state !== "pending") holding.set(inst.workload, (holding.get(inst.workload) ?? 0) + 1);
    if (inst.state === "stopped") {
      out.forget.push({ instance: inst.id });
      continue;
    }
    if (inst.desired === "stop") {
      // A stop that failed is retried; a stop in flight is left alone.
      if (inst.state === "failed") out.stop.push({ instance: inst.id, reason: inst.reason });
      continue;
    }
    let list = byWorkload.get(inst.workload);
    if (!list) byWorkload.set(inst.workload, (list = []));
    list.push(inst);
  }

  const names = [...state.workloads.keys()].sort();
  for (const name of names) {
    const workload = state.workloads.get(name)!;
    const running = (byWorkload.get(name) ?? []).sort(byIdSeq);
    const replicas = desiredReplicas(workload);

    if (workload.deleting) {
      for (const inst of running) out.stop.push({ instance: inst.id, reason: "workload deleted" });
      if ((holding.get(name) ?? 0) === 0) out.removeWorkload.push({ name });
      continue;
    }

    const slots = new Map<number, Instance[]>();
    for (const inst of running) {
      if (inst.index >= replicas) {
        out.stop.push({ instance: inst.id, reason: `scaled down to ${replicas}` });
        continue;
      }
      let slot = slots.get(inst.index);
      if (!slot) slots.set(inst.index, (slot = []));
      slot.push(inst);
    }
    for (let index = 0; index < replicas; index++) planSlot(out, placer, workload, index, slots.get(index) ?? [], now, policy);
  }
  return out;
}

/** Decides one replica slot: keep, schedule, replace or wait. */
function planSlot(out: Plan, placer: Placer, workload: Workload, index: number, slot: Instance[], now: number, policy: Policy): void {
  const current = slot.filter((i) => i.state !== "failed" && i.generation === workload.generation);
  const others = slot.filter((i) => !current.includes(i));
  const keep = current[0];
  for (const dup of current.slice(1)) out.stop.push({ instance: dup.id, reason: `duplicate of ${keep!.id}` });

  if (keep !== undefined && keep.state !== "pending") {
    for (const old of others) out.stop.push({ instance: old.id, reason: replacedReason(old, keep.id) });
    return;
  }
  if (keep !== undefined) {
    const choice = placer.choose(workload);
    if ("node" in choice) {
      out.schedule.push({ instance: keep.id, node: choice.node });
      for (const old of others) out.stop.push({ instance: old.id, reason: replacedReason(old, keep.id) });
    }
    return;
  }

  const failed = others.filter((i) => i.state === "failed");
  const lastFailure = failed.reduce<Instance | undefined>((a, b) => (a === undefined || b.attempt > a.attempt ? b : a), undefined);
  const attempt = others.reduce((max, i) => Math.max(max, i.attempt + 1), 0);
  if (lastFailure !== undefined) {
    const until = lastFailure.updatedAt + restartBackoffMs(lastFailure.attempt, policy);
    if (now < until) {
      out.wait.push({ instance: lastFailure.id, until, reason: `restart backoff after: ${lastFailure.reason}` });
      return;
    }
  }
  const fresh = { workload: workload.name, index, generation: workload.generation, attempt };
  const choice = placer.choose(workload);
  if ("reason" in choice) {
    out.pend.push({ ...fresh, reason: choice.reason });
    return;
  }
  out.place.push({ ...fresh, node: choice.node });
  const successor = `${instanceName(workload.name, index)} attempt ${attempt}`;
  for (const old of others) out.stop.push({ instance: old.id, reason: replacedReason(old, successor) });
}

function replacedReason(old: Instance, by: string): string {
  return old.state === "failed" ? old.reason : `replaced by ${by}`;
}

export interface Commit {
  events: ClusterEvent[];
  effects: Effect[];
}

/** Turns a plan into the events recording it and the effects carrying it out. PURE. */
export function commitPlan(state: ClusterState, p: Plan, policy: Policy = DEFAULT_POLICY): Commit {
  const events: ClusterEvent[] = [];
  const effects: Effect[] = [];
  const at = p.at;
  let seq = state.nextInstanceSeq;
  const start = (id: string, node: string, workload: Workload, index: number) =>
    effects.push({
      type: "StartInstance",
      node,
      instanceId: id,
      name: instanceName(workload.name, index),
      workload: workload.name,
      generation: workload.generation,
      spec: workload.spec,
    });

  for (const p2 of p.place) {
    const id = `${instanceName(p2.workload, p2.index)}.${seq++}`;
    events.push({ type: "InstanceCreated", at, id, workload: p2.workload, index: p2.index, generation: p2.generation, attempt: p2.attempt, reason: "" });
    events.push({ type: "InstanceTransitioned", at, id, event: { type: "place", node: p2.node } });
    start(id, p2.node, state.workloads.get(p2.workload)!, p2.index);
  }
  for (const p2 of p.pend) {
    const id = `${instanceName(p2.workload, p2.index)}.${seq++}`;
    events.push({ type: "InstanceCreated", at, id, workload: p2.workload, index: p2.index, generation: p2.generation, attempt: p2.attempt, reason: p2.reason });
  }
  for (const s of p.schedule) {
    const inst = state.instances.get(s.instance)!;
    events.push({ type: "InstanceTransitioned", at, id: s.instance, event: { type: "place", node: s.node } });
    start(inst.id, s.node, state.workloads.get(inst.workload)!, inst.index);
  }
  for (const s of p.stop) {
    const inst = state.instances.get(s.instance)!;
    events.push({ type: "InstanceTransitioned", at, id: s.instance, event: { type: "stop", reason: s.reason } });
    if (inst.state === "pending") events.push({ type: "InstanceRemoved", at, id: s.instance });
    else if (inst.node !== null) effects.push({
        type: "StopInstance",
        node: inst.node,
        instanceId: inst.id,
        generation: inst.generation,
        gracePeriodMs: policy.stopGracePeriodMs,
      });
  }
  for (const f of p.forget) events.push({ type: "InstanceRemoved", at, id: f.instance });
  for (const r of p.removeWorkload) events.push({ type: "WorkloadRemoved", at, name: r.name });
  return { events, effects };
}
