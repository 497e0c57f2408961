/**
 * How often agents heartbeat, and the silences after which a node is Suspect and Offline, for a
 * fleet of a given size. PURE.
 *
 * Every heartbeat is a message the control plane reads; a fleet that beats every second costs
 * it a message per node per second before any work. As Nomad's servers do (heartbeat.go: a
 * node's TTL is max(min TTL, nodes / max_heartbeats_per_second), its deadline that TTL plus a
 * grace), the interval grows with the fleet so that the whole fleet beats at most
 * `maxHeartbeatsPerSecond` times a second, and the thresholds grow with it: a node is allowed
 * the same slack past its interval as a small fleet's node is past one second.
 *
 * The fleet counted is every node known and not removed (`tessera ctl node remove`), read from
 * the recorded state, so every pass, replay and the simulator count alike. Not the nodes heard
 * lately: a fleet that lost many nodes at once would shorten the survivors' thresholds before
 * they were told to beat faster, and judge them Suspect, even Offline, for beating as told
 * (Nomad escapes this by fixing each node's deadline at its own heartbeat). Nodes gone for good
 * are removed, and the fleet shrinks one node at a time.
 */
import type { HealthThresholds } from "./node-health.js";

/** The interval agents heartbeat at unless told otherwise (the agent's `--heartbeat` default). */
export const BASE_HEARTBEAT_MS = 1_000;

/**
 * A fleet of up to this many nodes beats every second, keeping the configured thresholds (3 s
 * Suspect, 5 s Offline: node loss detected within 5 s); beyond, the interval grows.
 */
export const DEFAULT_MAX_HEARTBEATS_PER_SECOND = 1_000;

export interface HeartbeatPolicy extends HealthThresholds {
  /** The fleet's heartbeats a second, at most (`--max-heartbeats-per-second`). */
  maxHeartbeatsPerSecond: number;
}

/** The fleet's interval, and the thresholds that follow from it. */
export interface HeartbeatTiming extends HealthThresholds {
  intervalMs: number;
}

/**
 * The least slack past a stretched interval before Suspect. A removal may shorten the interval
 * by a second before the agents hear of it (they beat at once when told): two seconds cover
 * that second, the gateway's window and the telling.
 */
export const MIN_SLACK_MS = 2 * BASE_HEARTBEAT_MS;

/**
 * The interval and thresholds for a fleet of `fleet` nodes. The interval is a whole number of
 * seconds, so a fleet growing one node at a time changes it (and every agent is told) once
 * every `maxHeartbeatsPerSecond` nodes, not at each node. While it is one second the
 * configured thresholds hold as they are (agents may beat faster by their own `--heartbeat`);
 * beyond, Suspect comes the configured slack past one second after the interval (at least
 * MIN_SLACK_MS), and Offline as long after Suspect as configured.
 */
export function heartbeatTiming(fleet: number, policy: HeartbeatPolicy): HeartbeatTiming {
  const seconds = Math.max(1, Math.ceil(fleet / policy.maxHeartbeatsPerSecond));
  const intervalMs = seconds * BASE_HEARTBEAT_MS;
  if (intervalMs === BASE_HEARTBEAT_MS) return { ...policy, intervalMs };
  const suspectAfterMs = intervalMs + Math.max(policy.suspectAfterMs - BASE_HEARTBEAT_MS, MIN_SLACK_MS);
  return { ...policy, intervalMs, suspectAfterMs, offlineAfterMs: suspectAfterMs + (policy.offlineAfterMs - policy.suspectAfterMs) };
}

/** What the fleet's size is read from. */
export interface FleetRecord {
  nodes: ReadonlyMap<string, unknown>;
  /** The names whose identity is removed (ClusterState.removedNodes). */
  removedNodes: ReadonlySet<string>;
}

/** The nodes known and not removed: what it visits is the removed names, not the fleet. */
export function fleetSize(state: FleetRecord): number {
  let removed = 0;
  for (const name of state.removedNodes) if (state.nodes.has(name)) removed++;
  return state.nodes.size - removed;
}

/** The interval and thresholds for the fleet `state` records. */
export function fleetHeartbeat(state: FleetRecord, policy: HeartbeatPolicy): HeartbeatTiming {
  return heartbeatTiming(fleetSize(state), policy);
}

/**
 * What agents are told (ControlMessage.heartbeat_interval): 0 while the interval is one
 * second, which leaves each agent at its own `--heartbeat`; the interval beyond.
 */
export function toldIntervalMs(t: HeartbeatTiming): number {
  return t.intervalMs === BASE_HEARTBEAT_MS ? 0 : t.intervalMs;
}
