/** Mapping between the core's records and the generated wire types. */
import type { StoredEvent } from "./store/store.js";
import type { ClusterState, Instance, NodeRecord, Workload } from "../core/model.js";
import { desiredReplicas } from "../core/model.js";
import { type NodeHealth, nodeHealth } from "../core/node-health.js";
import type { Policy } from "../core/reconcile.js";
import type { InstanceState as CoreInstanceState } from "../core/instance-machine.js";
import { isLive } from "../core/instance-machine.js";
import {
  DesiredState,
  type Event as WireEvent,
  type Instance as WireInstance,
  InstanceState,
  type Node as WireNode,
  NodeHealth as WireNodeHealth,
  type Workload as WireWorkload,
  type WorkloadStatus,
} from "../gen/tessera/v1/types.js";

const STATES: { [S in CoreInstanceState]: InstanceState } = {
  pending: InstanceState.INSTANCE_STATE_PENDING,
  scheduled: InstanceState.INSTANCE_STATE_SCHEDULED,
  provisioning: InstanceState.INSTANCE_STATE_PROVISIONING,
  running: InstanceState.INSTANCE_STATE_RUNNING,
  failed: InstanceState.INSTANCE_STATE_FAILED,
  stopping: InstanceState.INSTANCE_STATE_STOPPING,
  stopped: InstanceState.INSTANCE_STATE_STOPPED,
};

const FROM_WIRE_STATE = new Map<InstanceState, CoreInstanceState>(Object.entries(STATES).map(([k, v]) => [v, k as CoreInstanceState]));

export function wireState(s: CoreInstanceState): InstanceState {
  return STATES[s];
}

/** The core state for a wire enum value, or undefined for UNSPECIFIED and unknown numbers. */
export function coreState(s: InstanceState): CoreInstanceState | undefined {
  return FROM_WIRE_STATE.get(s);
}

const HEALTH: { [H in NodeHealth]: WireNodeHealth } = {
  ready: WireNodeHealth.NODE_HEALTH_READY,
  suspect: WireNodeHealth.NODE_HEALTH_SUSPECT,
  offline: WireNodeHealth.NODE_HEALTH_OFFLINE,
};

export function workloadStatus(w: Workload, instances: Instance[]): WorkloadStatus {
  const desired = desiredReplicas(w);
  const running = instances.filter((i) => i.desired === "run" && i.state === "running" && i.generation === w.generation).length;
  const phase = w.deleting ? "Deleting" : desired === 0 ? "Stopped" : running >= desired ? "Running" : running === 0 ? "Pending" : "Degraded";
  const nodes = [...new Set(instances.flatMap((i) => (i.node !== null && i.desired === "run" && isLive(i.state) ? [i.node] : [])))].sort();
  return { desired, running, phase, deleting: w.deleting, nodes };
}

export function toWireWorkload(w: Workload, instances: Instance[]): WireWorkload {
  return { name: w.name, labels: w.labels, spec: w.spec, generation: w.generation, status: workloadStatus(w, instances), createdAt: new Date(w.createdAt) };
}

export function toWireInstance(i: Instance): WireInstance {
  return {
    id: i.id,
    name: i.name,
    workload: i.workload,
    index: i.index,
    generation: i.generation,
    node: i.node ?? "",
    desiredState: i.desired === "run" ? DesiredState.DESIRED_STATE_RUN : DesiredState.DESIRED_STATE_STOP,
    observedState: STATES[i.state],
    attempt: i.attempt,
    reason: i.reason,
    updatedAt: new Date(i.updatedAt),
  };
}

export function toWireNode(n: NodeRecord, instanceCount: number, now: number, policy: Policy): WireNode {
  return {
    name: n.name,
    executors: n.executors,
    health: HEALTH[nodeHealth(n, now, policy)],
    lastHeartbeat: new Date(n.lastHeartbeatAt),
    version: n.version,
    instances: instanceCount,
  };
}

/** Instances placed on each node that still occupy it. */
export function instancesPerNode(state: ClusterState): Map<string, number> {
  const counts = new Map<string, number>();
  for (const i of state.instances.values()) {
    if (i.node !== null && (isLive(i.state) || i.state === "stopping")) counts.set(i.node, (counts.get(i.node) ?? 0) + 1);
  }
  return counts;
}

export function toWireEvent(stored: StoredEvent): WireEvent {
  const { type, at, ...detail } = stored.event;
  return {
    sequence: stored.seq,
    at: new Date(at),
    type,
    workload: stored.workload ?? "",
    instance: stored.instance ?? "",
    node: stored.node ?? "",
    detail: JSON.stringify(detail),
  };
}
