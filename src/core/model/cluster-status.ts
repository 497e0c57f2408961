/**
 * What a state says once read: whether a copy is Ready or holds its node, what a node's copies
 * take of it, how many replicas a workload wants (and which nodes a system workload wants),
 * where its rollout stands. PURE; reads only.
 */
import { occupiesNode } from "./instance-machine.js";
import type { Capacity, ClusterView, Instance, NodeRecord, Workload } from "./cluster-state.js";
import { cordonGate } from "../reconcile/gates.js";
import type { NodeHealth } from "./node-health.js";
import { type ResolvedSpec, resolveSpec } from "./spec.js";
import { templateOf } from "./template-eras.js";

/**
 * Reserves resources on its node: it runs or is about to, or is being stopped while still
 * running. A failed copy being cleaned up (Failed → Stopping) has no process left to hold them.
 */
export function holdsNode(inst: Instance): boolean {
  return occupiesNode(inst.state) && !(inst.state === "stopping" && inst.failedAt !== null);
}

/** The node a copy holds (holdsNode), or null. */
export function heldNode(inst: Instance): string | null {
  return inst.node !== null && holdsNode(inst) ? inst.node : null;
}

/** What the copies holding `node` take of it (the state's nodeLoad index). */
export function allocatedOn(state: ClusterView, node: string): Capacity {
  const load = state.nodeLoad.get(node);
  return load ? { cpuMillis: load.cpuMillis, memoryMb: load.memoryMb } : { cpuMillis: 0, memoryMb: 0 };
}

/**
 * Whether a copy runs its workload's current template: its era's template is the current one
 * (a later change outdates it; going back to its template makes it current again). The one
 * place this is decided (ARCHITECTURE.md, invariant 30).
 */
export function runsCurrentTemplate(w: Workload, i: Instance): boolean {
  return templateOf(w, i.generation) === w.templateGeneration;
}

/**
 * Slots that are canaries of a rollout waiting for its promotion: a changed spec whose update
 * strategy has canaries, not promoted yet, with old copies still wanted. 0 when none waits (a
 * revert, going back to the last completed spec, has none).
 */
export function waitingCanaries(w: Workload, spec: ResolvedSpec, instances: Instance[]): number {
  if (spec.canary === 0 || w.promoted || w.reverted !== null) return 0;
  return instances.some((i) => i.desired === "run" && i.state !== "failed" && !runsCurrentTemplate(w, i)) ? Math.min(spec.canary, spec.replicas) : 0;
}

/** Ready: running, and every readiness check of its spec passing. */
export function isReady(inst: Instance): boolean {
  return inst.state === "running" && inst.readinessChecks.every((c) => inst.passing.includes(c));
}

/** Available: Ready for at least `minHealthyMs` (the update strategy's soak) at `now`. */
export function isAvailable(inst: Instance, minHealthyMs: number, now: number): boolean {
  return isReady(inst) && inst.readySince !== null && now - inst.readySince >= minHealthyMs;
}

/** When a Ready copy becomes available; undefined when it is not Ready. */
export function availableAt(inst: Instance, minHealthyMs: number): number | undefined {
  return isReady(inst) && inst.readySince !== null ? inst.readySince + minHealthyMs : undefined;
}

/** How many of the first `canaries` slots have an available copy of the current template. */
export function availableCanaries(w: Workload, instances: Instance[], canaries: number, minHealthyMs: number, now: number): number {
  let up = 0;
  for (let index = 0; index < canaries; index++) if (instances.some((i) => i.index === index && i.desired === "run" && runsCurrentTemplate(w, i) && isAvailable(i, minHealthyMs, now))) up++;
  return up;
}

/**
 * Where the latest change of what runs stands: complete when every replica has an available
 * copy of the current template; waiting while an operator holds it (paused, or every canary
 * available and held until promoted: time the deadline does not count, as Kubernetes does not
 * count a paused rollout); stalled when it has not completed within the progress deadline of
 * its start or of the end of its last wait (Workload.progressSince). A stalled rollout names a
 * current copy that is not available; none when the copies it lacks were not created.
 */
export type RolloutStatus =
  | { phase: "complete" | "progressing" }
  | { phase: "waiting"; on: "paused" | "promotion" }
  | { phase: "stalled"; stuck?: Instance; available: number; desired: number };

export function rolloutStatus(w: Workload, spec: ResolvedSpec, instances: Instance[], now: number, desired: number): RolloutStatus {
  // Asked for every workload in every pass: counted without a copy of the list.
  let available = 0;
  for (const i of instances) if (i.desired === "run" && runsCurrentTemplate(w, i) && isAvailable(i, spec.minHealthyMs, now)) available++;
  if (available >= desired) return { phase: "complete" };
  const current = instances.filter((i) => i.desired === "run" && runsCurrentTemplate(w, i));
  if (w.paused) return { phase: "waiting", on: "paused" };
  const canaries = spec.kind === "service" ? waitingCanaries(w, spec, instances) : 0;
  if (canaries > 0 && availableCanaries(w, current, canaries, spec.minHealthyMs, now) === canaries) return { phase: "waiting", on: "promotion" };
  if (now - w.progressSince <= spec.progressDeadlineMs) return { phase: "progressing" };
  return { phase: "stalled", stuck: current.find((i) => !isAvailable(i, spec.minHealthyMs, now)), available, desired };
}

/** Why a rollout stalled, for its events and status: the copy holding it, or what is missing. */
export function stallCause(s: Extract<RolloutStatus, { phase: "stalled" }>): string {
  const c = s.stuck;
  if (c === undefined) return `${s.available} of ${s.desired} copies of the new spec available, no more created yet`;
  return `${c.id} ${c.state === "running" ? (isReady(c) ? "not soaked" : "not Ready") : c.state}${c.reason ? `: ${c.reason}` : ""}`;
}

/** Counted against a workload's replicas + max_surge: Pending, or holding its node. */
export function countsAgainstSurge(inst: Instance): boolean {
  return inst.state === "pending" || holdsNode(inst);
}

/**
 * Copies a workload wants: a service's replicas (unset means 1), a batch's completions, one per
 * node that qualifies for a system workload (by its recorded health); 0 while deleting.
 */
export function desiredCopies(view: ClusterView, workload: Workload): number {
  if (workload.deleting) return 0;
  const spec = resolveSpec(workload.spec);
  if (spec.kind !== "system") return spec.replicas;
  let n = 0;
  for (const node of view.nodes.values()) if (qualifiesForSystem(node, node.health, spec)) n++;
  return n;
}

/** Whether the node runs the spec's executor (a simulated agent runs any). */
export function offersExecutor(node: NodeRecord, spec: ResolvedSpec): boolean {
  return node.executors.includes(spec.executor) || node.executors.includes("simulated");
}

/**
 * Whether a system workload wants a copy on this node: it is Ready and connected, takes new
 * work (not cordoned or draining), carries every node_selector label and runs the executor.
 * Whether the copy fits (resources, ports, quarantine) is placement's to say (chooseOn).
 */
export function qualifiesForSystem(node: NodeRecord, health: NodeHealth | undefined, spec: ResolvedSpec): boolean {
  if (!node.connected || health !== "ready" || cordonGate(node) !== undefined || !offersExecutor(node, spec)) return false;
  for (const key in spec.nodeSelector) if (node.labels[key] !== spec.nodeSelector[key]) return false;
  return true;
}

/** A batch's indexes whose run of its current template succeeded. */
export function succeededIndexes(workload: Workload, instances: Instance[]): Set<number> {
  return new Set(instances.filter((i) => i.state === "succeeded" && runsCurrentTemplate(workload, i)).map((i) => i.index));
}
