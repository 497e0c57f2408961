/**
 * The control plane's view of the world and the events that change it. PURE.
 *
 * `evolve` is the only function that changes a ClusterState. It applies one recorded event in
 * place (copying 100,000-entry maps per event would make the single writer slow) and is
 * deterministic, so folding a log of events from an empty state rebuilds the same view.
 */
import type { WorkloadSpec } from "../gen/tessera/v1/types.js";
import { type InstanceEvent, type InstanceState, transition } from "./instance-machine.js";

export type { WorkloadSpec };

export interface Workload {
  name: string;
  labels: Record<string, string>;
  spec: WorkloadSpec;
  /** Increases by one each time the spec changes. */
  generation: number;
  /** Delete was requested: its instances are being stopped, then it is forgotten. */
  deleting: boolean;
  createdAt: number;
}

export type DesiredState = "run" | "stop";

export interface Instance {
  /** Unique and never reused: `<name>.<sequence>`. */
  id: string;
  /** Stable `<workload>-<index>`; replacements keep it. */
  name: string;
  workload: string;
  index: number;
  generation: number;
  node: string | null;
  desired: DesiredState;
  state: InstanceState;
  /** How many instances with this name came before this one. */
  attempt: number;
  reason: string;
  exitCode: number | null;
  updatedAt: number;
}

export interface NodeRecord {
  name: string;
  executors: string[];
  version: string;
  /** An agent stream for this node is open. */
  connected: boolean;
  /** Identifies the open stream, so a late close of an older stream is ignored. */
  session: number;
  lastHeartbeatAt: number;
}

export interface ClusterState {
  workloads: Map<string, Workload>;
  instances: Map<string, Instance>;
  nodes: Map<string, NodeRecord>;
  /** Next instance sequence number; makes instance ids unique without randomness. */
  nextInstanceSeq: number;
}

export function emptyState(): ClusterState {
  return { workloads: new Map(), instances: new Map(), nodes: new Map(), nextInstanceSeq: 1 };
}

/** Version of the event schema written to the log. Bump it when an event's shape changes. */
export const EVENT_VERSION = 1;

/** Facts recorded in the event log, past tense. */
export type ClusterEvent =
  | { type: "WorkloadApplied"; at: number; workload: Omit<Workload, "deleting" | "createdAt"> }
  | { type: "WorkloadDeleteRequested"; at: number; name: string }
  | { type: "WorkloadRemoved"; at: number; name: string }
  | { type: "InstanceCreated"; at: number; id: string; workload: string; index: number; generation: number; attempt: number; reason: string }
  | { type: "InstanceTransitioned"; at: number; id: string; event: InstanceEvent }
  | { type: "InstanceRemoved"; at: number; id: string }
  | { type: "NodeConnected"; at: number; name: string; session: number; executors: string[]; version: string }
  | { type: "NodeDisconnected"; at: number; name: string }
  /** Volatile: evolves the state but is not written to the log (one per node per second). */
  | { type: "NodeHeartbeatReceived"; at: number; name: string };
export type ClusterEventType = ClusterEvent["type"];

/** Events that are applied but not logged. */
export function isVolatile(event: ClusterEvent): boolean {
  return event.type === "NodeHeartbeatReceived";
}

export function instanceName(workload: string, index: number): string {
  return `${workload}-${index}`;
}

/** `web-0.12` → `web`: an instance id names its workload. */
export function workloadOfInstanceId(id: string): string {
  const name = id.slice(0, id.lastIndexOf("."));
  return name.slice(0, name.lastIndexOf("-"));
}

/** Replica count with the proto default applied: unset means 1. */
export function desiredReplicas(workload: Workload): number {
  return workload.deleting ? 0 : (workload.spec.replicas ?? 1);
}

type Evolver<K extends ClusterEventType> = (state: ClusterState, event: Extract<ClusterEvent, { type: K }>) => void;

const evolvers: { [K in ClusterEventType]: Evolver<K> } = {
  WorkloadApplied(state, e) {
    const prior = state.workloads.get(e.workload.name);
    state.workloads.set(e.workload.name, { ...e.workload, deleting: false, createdAt: prior?.createdAt ?? e.at });
  },
  WorkloadDeleteRequested(state, e) {
    const w = state.workloads.get(e.name);
    if (w) w.deleting = true;
  },
  WorkloadRemoved(state, e) {
    state.workloads.delete(e.name);
  },
  InstanceCreated(state, e) {
    const seq = Number(e.id.slice(e.id.lastIndexOf(".") + 1));
    state.nextInstanceSeq = Math.max(state.nextInstanceSeq, seq + 1);
    state.instances.set(e.id, {
      id: e.id,
      name: instanceName(e.workload, e.index),
      workload: e.workload,
      index: e.index,
      generation: e.generation,
      node: null,
      desired: "run",
      state: "pending",
      attempt: e.attempt,
      reason: e.reason,
      exitCode: null,
      updatedAt: e.at,
    });
  },
  InstanceTransitioned(state, e) {
    const inst = state.instances.get(e.id);
    if (!inst) throw new Error(`event log is inconsistent: InstanceTransitioned for unknown instance ${e.id}`);
    const result = transition(inst.state, e.event);
    if (!result.ok) throw new Error(`event log is inconsistent: ${inst.id} cannot ${e.event.type} from ${inst.state}`);
    inst.state = result.state;
    inst.updatedAt = e.at;
    switch (e.event.type) {
      case "place":
        inst.node = e.event.node;
        inst.reason = "";
        break;
      case "fail":
        inst.reason = e.event.reason;
        inst.exitCode = e.event.exitCode ?? null;
        break;
      case "stop":
        inst.desired = "stop";
        if (inst.reason === "") inst.reason = e.event.reason;
        break;
      case "finish":
        if (e.event.exitCode !== undefined) inst.exitCode = e.event.exitCode;
        break;
    }
  },
  InstanceRemoved(state, e) {
    state.instances.delete(e.id);
  },
  NodeConnected(state, e) {
    state.nodes.set(e.name, { name: e.name, executors: e.executors, version: e.version, connected: true, session: e.session, lastHeartbeatAt: e.at });
  },
  NodeHeartbeatReceived(state, e) {
    const node = state.nodes.get(e.name);
    if (node) node.lastHeartbeatAt = e.at;
  },
  NodeDisconnected(state, e) {
    const node = state.nodes.get(e.name);
    if (node) node.connected = false;
  },
};

/** Applies one event to the state, in place. Throws only when the log itself is inconsistent. */
export function evolve(state: ClusterState, event: ClusterEvent): ClusterState {
  (evolvers[event.type] as Evolver<typeof event.type>)(state, event);
  return state;
}

/** Rebuilds a state by folding events over an empty one. */
export function replay(events: Iterable<ClusterEvent>): ClusterState {
  const state = emptyState();
  for (const event of events) evolve(state, event);
  return state;
}
