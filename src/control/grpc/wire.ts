/** Mapping between the core's records and the generated wire types; what a status says is the core's (views/workload-status.ts). */
import type { ClusterView, Instance, NodeRecord, Workload } from "../../core/model/cluster-state.js";
import { allocatedOn, isReady } from "../../core/model/cluster-status.js";
import { summarizeEvent } from "../../core/events/event-summary.js";
import { workloadStatus } from "../../core/views/workload-status.js";
import { INSTANCE_STATE_TO_WIRE, NODE_HEALTH_TO_WIRE } from "../../core/model/wire-enums.js";
import {
  DesiredState,
  type Event as WireEvent,
  type Instance as WireInstance,
  type Node as WireNode,
  type ResourceUsage,
  type Workload as WireWorkload,
} from "../../gen/tessera/v1/types.js";
import type { StoredEvent } from "../store/rows.js";
import { cronNext } from "../writer/cron.js";

export function toWireWorkload(view: ClusterView, w: Workload, instances: Instance[]): WireWorkload {
  const { nextRunTime, ...status } = workloadStatus(view, w, instances, Date.now(), cronNext);
  const quarantines = status.quarantines.map((q) => ({ ...q, until: new Date(q.until) }));
  const next = nextRunTime === undefined ? {} : { nextRunTime: new Date(nextRunTime) };
  return { name: w.name, labels: w.labels, spec: w.spec, generation: w.generation, status: { ...status, quarantines, ...next }, createdAt: new Date(w.createdAt) };
}

/** `nodes` tell where its ports answer: the address its node advertises. */
/** `usage`: its agent's last sample, on the leader (usage-board.ts). */
export function toWireInstance(i: Instance, nodes: ClusterView["nodes"], usage?: ResourceUsage): WireInstance {
  return {
    id: i.id,
    name: i.name,
    workload: i.workload,
    index: i.index,
    generation: i.generation,
    node: i.node ?? "",
    desiredState: i.desired === "run" ? DesiredState.DESIRED_STATE_RUN : DesiredState.DESIRED_STATE_STOP,
    observedState: INSTANCE_STATE_TO_WIRE[i.state],
    attempt: i.attempt,
    reason: i.reason,
    stderrTail: i.stderrTail,
    updatedAt: new Date(i.updatedAt),
    ready: isReady(i),
    passingChecks: i.passing,
    ports: i.ports,
    address: i.node === null ? "" : (nodes.get(i.node)?.ports.address ?? ""),
    usage,
  };
}

/**
 * `heard`: whether this control plane hears the agents' heartbeats (the leader). A standby
 * leaves the last heartbeat unknown: its record's is the last one a commit carried, and its
 * age would show a silence the leader, whose judgment `health` is, did not hear.
 */
export function toWireNode(state: ClusterView, n: NodeRecord, heard: boolean, usage?: ResourceUsage): WireNode {
  return {
    name: n.name,
    executors: n.executors,
    health: NODE_HEALTH_TO_WIRE[n.health],
    lastHeartbeat: heard ? new Date(n.lastHeartbeatAt) : undefined,
    version: n.version,
    instances: state.nodeLoad.get(n.name)?.copies.size ?? 0,
    labels: n.labels,
    capacity: n.capacity,
    allocated: allocatedOn(state, n.name),
    schedulable: n.schedulable,
    draining: n.draining,
    address: n.ports.address,
    portRange: n.ports.address === "" ? undefined : n.ports.range,
    reservedPorts: n.ports.reserved,
    hostVolumes: n.volumes,
    limits: n.limits,
    usage,
  };
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
    summary: summarizeEvent(stored.event),
  };
}
