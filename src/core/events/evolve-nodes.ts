/**
 * How events change the nodes: connected, heard from, their health, cordoned, drained,
 * disconnected; and the control plane starting to listen to agents again. PURE, in place
 * (see evolve.ts).
 */
import { NO_PORTS } from "../model/ports.js";
import { type Evolvers, must } from "./state-edits.js";
import { dropAgentStreams } from "./stored-state.js";

export const nodeEvolvers = {
  NodeConnected(state, e) {
    const prior = state.nodes.get(e.name);
    state.nodes.set(e.name, {
      name: e.name,
      executors: e.executors,
      version: e.version,
      labels: e.labels,
      capacity: e.capacity,
      ports: e.ports ?? NO_PORTS,
      volumes: e.volumes ?? [],
      ...(e.limits ? { limits: e.limits } : {}),
      health: "ready",
      // Cordon and drain are the operator's decisions; a reconnect keeps them.
      schedulable: prior?.schedulable ?? true,
      draining: prior?.draining ?? false,
      connected: true,
      session: e.session,
      lastHeartbeatAt: e.at,
    });
  },
  NodeHealthChanged(state, e) {
    const node = must(state.nodes, e.name, "node");
    if (node.health !== e.from) throw new Error(`event log is inconsistent: node ${e.name} is ${node.health}, not ${e.from}`);
    node.health = e.to;
  },
  NodeCordoned(state, e) {
    must(state.nodes, e.name, "node").schedulable = false;
  },
  NodeUncordoned(state, e) {
    const node = must(state.nodes, e.name, "node");
    node.schedulable = true;
    node.draining = false;
  },
  NodeDrainStarted(state, e) {
    const node = must(state.nodes, e.name, "node");
    node.schedulable = false;
    node.draining = true;
  },
  NodeHeartbeatReceived(state, e) {
    must(state.nodes, e.name, "node").lastHeartbeatAt = e.at;
  },
  NodeDisconnected(state, e) {
    must(state.nodes, e.name, "node").connected = false;
  },
  ListeningStarted(state, e) {
    state.listeningSince = e.at;
    dropAgentStreams(state);
  },
} satisfies Partial<Evolvers>;
