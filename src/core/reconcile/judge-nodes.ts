/**
 * The first step of a reconcile pass: each node's health judged from its heartbeats at `now`
 * (or as recorded, under replay), and the nodes being drained. PURE.
 */
import type { ClusterState } from "../model/cluster-state.js";
import { fleetHeartbeat } from "../model/heartbeat.js";
import { JudgedHealth, type NodeHealth, nodeHealth } from "../model/node-health.js";
import type { Plan, Policy } from "./reconcile.js";

/** Each node's health as this pass judges it (a change is planned: pushed to `out`), and the nodes being drained. */
export function judgeNodes(out: Plan["health"], state: ClusterState, now: number, policy: Policy): { health: JudgedHealth; draining: Set<string> } {
  const changes = new Map<string, NodeHealth>();
  let anyReady = false;
  /** Nodes being drained: their copies count as outdated. Usually none, so the check is free. */
  const draining = new Set<string>();
  // The thresholds of the fleet's size (heartbeat.ts): the same for every node of a pass.
  const t = fleetHeartbeat(state, policy);
  for (const node of state.nodes.values()) {
    const h = policy.recordedHealth ? node.health : nodeHealth(node, now, t, state.listeningSince);
    if (h === "ready") anyReady = true;
    if (node.draining) draining.add(node.name);
    if (h === node.health) continue;
    changes.set(node.name, h);
    out.push({ node: node.name, from: node.health, to: h });
  }
  return { health: new JudgedHealth(state.nodes, changes, anyReady), draining };
}
