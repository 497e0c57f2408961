/**
 * Applying events to a state: `evolve` (one event) and `replay` (a log from an empty state). PURE.
 *
 * `evolve` is the only function that changes a ClusterState. It applies one recorded event in
 * place (copying 100,000-entry maps per event would make the single writer slow) and is
 * deterministic, so folding a log of events from an empty state rebuilds the same view.
 * Each resource's evolvers live in their own file; this is the one table that joins them.
 */
import { type ClusterState, emptyState } from "../model/cluster-state.js";
import type { ClusterEvent } from "./cluster-events.js";
import { accessEvolvers } from "./evolve-access.js";
import { instanceEvolvers } from "./evolve-instances.js";
import { nodeEvolvers } from "./evolve-nodes.js";
import { secretEvolvers } from "./evolve-secrets.js";
import { workloadEvolvers } from "./evolve-workloads.js";
import type { Evolver, Evolvers } from "./state-edits.js";

const evolvers: Evolvers = {
  ...workloadEvolvers,
  ...instanceEvolvers,
  ...nodeEvolvers,
  ...accessEvolvers,
  ...secretEvolvers,
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
