/**
 * Node health from heartbeats. PURE: `now` is a parameter.
 * Ready while heartbeats arrive on time, Suspect once late, Offline when long silent. A closed
 * stream alone does not make a node Offline (a network blip must not reschedule a fleet); it
 * only stops new placements there, and silence does the rest.
 *
 * Silence is counted only while the control plane could have heard the node: a node not
 * heard since the control plane started listening (a start, later a change of leader) is
 * judged from then plus a grace for agents to find it again. A control plane that was down did not observe its nodes going quiet; judging them
 * from their last heartbeat before the crash would replace every copy a restart interrupted.
 */

export type NodeHealth = "ready" | "suspect" | "offline";

/**
 * Node health as one reconcile pass judges it: each node's recorded health, but where the pass
 * plans a change. Only the changes are kept, so a pass over a steady fleet builds nothing per node.
 */
export class JudgedHealth {
  constructor(
    private readonly nodes: ReadonlyMap<string, { health: NodeHealth }>,
    private readonly changes: ReadonlyMap<string, NodeHealth>,
    /** Some node is Ready. */
    readonly anyReady: boolean,
  ) {}

  /** The health of the node named `node`, or undefined when there is no such node. */
  get(node: string): NodeHealth | undefined {
    return this.changes.size === 0 ? this.nodes.get(node)?.health : (this.changes.get(node) ?? this.nodes.get(node)?.health);
  }

  /** The same, of a node's record. */
  of(node: { name: string; health: NodeHealth }): NodeHealth {
    return this.changes.size === 0 ? node.health : (this.changes.get(node.name) ?? node.health);
  }
}

export interface HealthThresholds {
  /** Silence after which a node is Suspect. */
  suspectAfterMs: number;
  /** Silence after which a node is Offline. */
  offlineAfterMs: number;
  /** After the control plane starts listening, how long before silence starts to count. */
  startGraceMs: number;
}

/**
 * The moment a node's silence is counted from: its last heartbeat when this control plane
 * heard it (at or after `listeningSince`), else the end of the grace after it started listening.
 */
export function heardFrom(node: { lastHeartbeatAt: number }, listeningSince: number, t: HealthThresholds): number {
  return node.lastHeartbeatAt >= listeningSince ? node.lastHeartbeatAt : listeningSince + t.startGraceMs;
}

export function nodeHealth(node: { lastHeartbeatAt: number }, now: number, t: HealthThresholds, listeningSince: number): NodeHealth {
  const silence = now - heardFrom(node, listeningSince, t);
  if (silence <= t.suspectAfterMs) return "ready";
  if (silence <= t.offlineAfterMs) return "suspect";
  return "offline";
}
