/**
 * Node health from heartbeats. PURE: `now` is a parameter.
 * Ready while heartbeats arrive on time, Suspect once late, Offline when long silent. A closed
 * stream alone does not make a node Offline (a network blip must not reschedule a fleet); it
 * only stops new placements there, and silence does the rest.
 */

export type NodeHealth = "ready" | "suspect" | "offline";

export interface HealthThresholds {
  /** Silence after which a node is Suspect. */
  suspectAfterMs: number;
  /** Silence after which a node is Offline. */
  offlineAfterMs: number;
}

export function nodeHealth(node: { lastHeartbeatAt: number }, now: number, t: HealthThresholds): NodeHealth {
  const silence = now - node.lastHeartbeatAt;
  if (silence <= t.suspectAfterMs) return "ready";
  if (silence <= t.offlineAfterMs) return "suspect";
  return "offline";
}
