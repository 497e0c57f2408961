/**
 * Offline re-simulation of a recorded event log. PURE.
 *
 * The log holds two kinds of events: observations and requests that came from outside
 * (applies, deletes, cordons, agents' connections, their reports, node health changes) and
 * the decisions the reconciler took from them (instances created, placed, stopped, lost,
 * forgotten). `resimulate` keeps the first kind, optionally with one event moved in time,
 * and lets the core decide again: what would the control plane have done?
 */
import type { ClusterEvent, ClusterState } from "./model.js";
import { emptyState, evolve } from "./model.js";
import { commitPlan, isEmptyPlan, type Plan, type Policy, plan } from "./reconcile.js";
import { transition } from "./instance-machine.js";

export interface LoggedInput {
  seq: number;
  event: ClusterEvent;
}

/** True for events that came from outside the reconciler. */
export function isInput(e: ClusterEvent): boolean {
  switch (e.type) {
    case "WorkloadApplied":
    case "WorkloadDeleteRequested":
    case "WorkloadRestartRequested":
    case "NodeConnected":
    case "NodeDisconnected":
    case "NodeHeartbeatReceived":
    case "NodeHealthChanged":
    case "NodeCordoned":
    case "NodeUncordoned":
    case "NodeDrainStarted":
      return true;
    case "InstanceCheckReported":
      return true;
    case "InstanceTransitioned":
      // What agents reported; place, stop and lose are the reconciler's.
      return e.event.type === "provision" || e.event.type === "run" || e.event.type === "fail" || e.event.type === "finish";
    case "WorkloadRemoved":
    case "InstanceCreated":
    case "InstanceRemoved":
      return false;
    // Node health follows the logged health changes here (heartbeats are not logged), so the
    // grace a start gives silent nodes is already in them.
    case "ListeningStarted":
      return false;
  }
}

export interface SimulatedTurn {
  at: number;
  /** Inputs applied at this instant (those that still made sense). */
  inputs: LoggedInput[];
  /** Inputs that named an instance the re-simulated world does not have in that state. */
  skipped: LoggedInput[];
  plan: Plan;
  decisions: ClusterEvent[];
}

/**
 * Re-runs the reconciler over the inputs of a log, in time order (ties by sequence).
 * Heartbeats are not logged, so node health follows the logged health changes only.
 */
export function resimulate(inputs: LoggedInput[], policy: Policy): { turns: SimulatedTurn[]; state: ClusterState } {
  const ordered = [...inputs].sort((a, b) => a.event.at - b.event.at || a.seq - b.seq);
  const state = emptyState();
  const turns: SimulatedTurn[] = [];
  for (let k = 0; k < ordered.length; ) {
    const at = ordered[k]!.event.at;
    const applied: LoggedInput[] = [];
    const skipped: LoggedInput[] = [];
    for (; k < ordered.length && ordered[k]!.event.at === at; k++) {
      const input = ordered[k]!;
      if (fits(state, input.event)) {
        evolve(state, input.event);
        applied.push(input);
      } else skipped.push(input);
    }
    // Heartbeats are not logged: each node's silence is set to match its logged health.
    for (const node of state.nodes.values()) {
      node.lastHeartbeatAt = at - (node.health === "ready" ? 0 : node.health === "suspect" ? policy.suspectAfterMs + 1 : policy.offlineAfterMs + 1);
    }
    const p = plan(state, at, policy);
    const c = commitPlan(state, p);
    for (const e of c.events) evolve(state, e);
    if (!isEmptyPlan(p) || skipped.length > 0) turns.push({ at, inputs: applied, skipped, plan: p, decisions: c.events });
  }
  return { turns, state };
}

/** Whether an input still applies to the re-simulated state (its entities exist, its transition is valid). */
function fits(state: ClusterState, e: ClusterEvent): boolean {
  switch (e.type) {
    case "InstanceTransitioned": {
      const inst = state.instances.get(e.id);
      return inst !== undefined && transition(inst.state, e.event).ok;
    }
    case "WorkloadDeleteRequested":
    case "WorkloadRestartRequested":
      return state.workloads.has(e.name);
    case "NodeConnected":
      return true;
    case "NodeHealthChanged": {
      const node = state.nodes.get(e.name);
      return node !== undefined && node.health === e.from;
    }
    case "NodeDisconnected":
    case "NodeHeartbeatReceived":
    case "NodeCordoned":
    case "NodeUncordoned":
    case "NodeDrainStarted":
      return state.nodes.has(e.name);
    default:
      return true;
  }
}
