/**
 * Node health from heartbeats. PURE: `now` is a parameter.
 * Ready while heartbeats arrive on time, Suspect once late, Offline when long silent or the
 * agent's stream closed.
 */
import type { NodeRecord } from "./model.js";

export type NodeHealth = "ready" | "suspect" | "offline";

export interface HealthThresholds {
  /** Silence after which a node is Suspect. */
  suspectAfterMs: number;
  /** Silence after which a node is Offline. */
  offlineAfterMs: number;
}

export function nodeHealth(node: NodeRecord, now: number, t: HealthThresholds): NodeHealth {
  if (!node.connected) return "offline";
  const silence = now - node.lastHeartbeatAt;
  if (silence <= t.suspectAfterMs) return "ready";
  if (silence <= t.offlineAfterMs) return "suspect";
  return "offline";
}
