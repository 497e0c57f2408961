/**
 * What the public event stream (GET /v1/events/stream, `tessera ctl events`) shows of the
 * event log: each event's topic (Nomad's word: the kind of thing it is about), the filter by
 * topic and key, and whether a resume point is still retained. PURE.
 */
import type { ClusterEventType } from "./cluster-events.js";
import type { Rejection } from "../model/rejections.js";

/** Response header of Watch: the newest sequence number assigned when the watch began. */
export const NEWEST_SEQUENCE_HEADER = "tessera-newest-sequence";

/** The topic of every event type: a new type must say which it belongs to. */
const TOPIC_OF = {
  WorkloadApplied: "Workload",
  WorkloadDeleteRequested: "Workload",
  WorkloadExpired: "Workload",
  WorkloadFinished: "Workload",
  WorkloadRemoved: "Workload",
  WorkloadRestartRequested: "Workload",
  PeriodicRunStarted: "Workload",
  PeriodicRunSkipped: "Workload",
  QuarantineLifted: "Workload",
  RolloutCompleted: "Rollout",
  RolloutHeld: "Rollout",
  RolloutPaused: "Rollout",
  RolloutPromoted: "Rollout",
  RolloutReverted: "Rollout",
  RolloutStalled: "Rollout",
  RolloutWaveStarted: "Rollout",
  InstanceCheckReported: "Instance",
  InstanceCreated: "Instance",
  InstanceExecStarted: "Instance",
  InstanceRemoved: "Instance",
  InstanceTransitioned: "Instance",
  InstanceWaiting: "Instance",
  NodeConnected: "Node",
  NodeCordoned: "Node",
  NodeDisconnected: "Node",
  NodeDrainStarted: "Node",
  NodeHealthChanged: "Node",
  NodeHeartbeatReceived: "Node",
  NodeUncordoned: "Node",
  NodeCertified: "Node",
  NodeApproved: "Node",
  NodeRemoved: "Node",
  TokenIssued: "Token",
  TokenRevoked: "Token",
  SecretUpdated: "Secret",
  SecretDeleted: "Secret",
  SecretResealed: "Secret",
  ListeningStarted: "ControlPlane",
} as const satisfies Record<ClusterEventType, string>;

export type Topic = (typeof TOPIC_OF)[ClusterEventType];
export const TOPICS: readonly Topic[] = [...new Set(Object.values(TOPIC_OF))];

/** The topic of an event type; undefined for a type this version does not know. */
export function eventTopic(type: string): Topic | undefined {
  return (TOPIC_OF as Record<string, Topic>)[type];
}

export interface EventFilter {
  /** Empty: every topic. */
  topics: Topic[];
  /** Only events whose workload, node or instance id is this; undefined: all. */
  key?: string;
}

/** The filter a request's `topic` values (repeatable) and `key` ask for, or a refusal naming the field. */
export function parseEventFilter(topics: readonly string[], key: string | undefined): EventFilter | Rejection {
  const out: Topic[] = [];
  for (const t of topics) {
    const known = TOPICS.find((k) => k.toLowerCase() === t.toLowerCase());
    if (!known) return { kind: "InvalidArgument", field: "topic", expected: `one of ${TOPICS.join(", ")}, got "${t}"` };
    out.push(known);
  }
  if (key !== undefined && key === "") return { kind: "InvalidArgument", field: "key", expected: "a workload, node or instance id (or no key)" };
  return { topics: out, ...(key !== undefined ? { key } : {}) };
}

/** Whether the filter lets an event through. */
export function matchesEventFilter(e: { type: string; workload: string; node: string; instance: string }, f: EventFilter): boolean {
  if (f.topics.length > 0 && !f.topics.includes(eventTopic(e.type)!)) return false;
  return f.key === undefined || f.key === e.workload || f.key === e.node || f.key === e.instance;
}

/**
 * Resuming after sequence `after` misses nothing retention dropped: refused when events after
 * it are gone (the log's oldest is beyond after + 1, or the log is empty though numbers past
 * `after` were assigned). `after` 0 means "from the oldest retained", always allowed.
 */
export function checkRetained(after: number, oldest: number, newest: number): Rejection | undefined {
  if (after === 0) return undefined;
  const gone = oldest > 0 ? oldest > after + 1 : newest > after;
  return gone ? { kind: "EventsNotRetained", after, oldest } : undefined;
}
