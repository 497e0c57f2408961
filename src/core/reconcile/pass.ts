/**
 * What every workload's planning in one reconcile pass reads (the Pass, a workload's census),
 * and the plan entries every kind of workload writes alike: a new copy, a node chosen, a
 * Pending copy that waits. PURE.
 */
import type { ClusterState, Instance, Workload } from "../model/cluster-state.js";
import type { JudgedHealth } from "../model/node-health.js";
import type { AssignedPort } from "../model/ports.js";
import type { ResolvedSpec } from "../model/spec.js";
import type { QuarantinePolicy } from "./gates.js";
import type { Choice, Placer } from "./placement.js";
import type { NewInstance, PlaceCause, Plan } from "./reconcile.js";

/** What every workload's planning in one pass reads. */
export interface Pass {
  state: ClusterState;
  /** Node health as this pass judges it. */
  health: JudgedHealth;
  /** Nodes being drained. */
  draining: ReadonlySet<string>;
  placer: Placer;
  now: number;
  /** When a workload crash-loops on a node (auto_revert then does not wait for the deadline). */
  quarantine: QuarantinePolicy;
  /** Draining nodes where only system workloads' copies are left (made on first use). */
  systemOnly?: Set<string>;
}

/** One workload's copies as the census found them. */
export interface WorkloadView {
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

export function emptyView(): WorkloadView {
  return { running: [], nonTerminal: 0, holding: 0 };
}

/** A new copy of `index`, as the plan records it. */
export function freshCopy(workload: Workload, spec: ResolvedSpec, index: number, attempt: number, cause: PlaceCause): NewInstance {
  return { workload: workload.name, index, generation: workload.generation, attempt, resources: { cpuMillis: spec.cpuMillis, memoryMb: spec.memoryMb }, readinessChecks: spec.readinessChecks, cause };
}

/** A node choice as a plan records it: `ports` only when the copy has any, so plans of port-less workloads keep their shape. */
export function placed(choice: Extract<Choice, { node: string }>): { node: string; ports?: AssignedPort[] } {
  return choice.ports === undefined ? { node: choice.node } : { node: choice.node, ports: choice.ports };
}

/**
 * A Pending copy no node takes this pass: held, and its reason recorded again when it changed,
 * so what `get instances` says is why it waits now, not why it waited when created.
 */
export function waitPending(out: Plan, inst: Instance, reason: string): void {
  out.skip.push({ gate: "unplaceable", reason, workload: inst.workload, instance: inst.id });
  if (reason !== inst.reason) out.waiting.push({ instance: inst.id, reason });
}
