/**
 * A state as the store keeps it (its rows), and the states built from those rows: a
 * follower's (as the leader left it) and a new leader's (no agent stream survives). PURE.
 */
import { runsCurrentTemplate } from "../model/cluster-status.js";
import { type SecretRecord, secretId } from "../model/secrets.js";
import { type ClusterState, emptyState, type Instance, instanceSeq, type NodeIdentity, type NodeRecord, type TokenRecord, type Workload } from "../model/cluster-state.js";
import { putInstance, recordCrash } from "./state-edits.js";

/**
 * What the store keeps of a state: its rows, and the failures crash-loop quarantine remembers
 * (in the order they happened, each on the node its copy ran on). The rows are the leader's
 * state as of its last commit, agent streams included: a follower starts from them as they are.
 */
export interface StoredState {
  workloads: Workload[];
  instances: Instance[];
  nodes: NodeRecord[];
  nextInstanceSeq: number;
  failures: Array<{ workload: string; node: string; at: number; instance: string }>;
  /** Active tokens. */
  tokens: Array<{ hash: string } & TokenRecord>;
  /** Absent in a store from before identities were recorded. */
  nodeIdentities?: Array<{ node: string } & NodeIdentity>;
  /** When the leader last started listening to agents; absent before it first did. */
  listeningSince?: number;
  /** Secrets and configs; absent in a store from before them. */
  secrets?: SecretRecord[];
}

/** The leader's state as its store kept it at its last commit: what a follower starts from. */
export function storedState(stored: StoredState): ClusterState {
  const state = emptyState();
  for (const w of stored.workloads) state.workloads.set(w.name, w);
  // In the order they were created, as evolve keeps them: a census lists what it finds in this order (reconcile/quiet.ts).
  for (const i of [...stored.instances].sort((a, b) => instanceSeq(a.id) - instanceSeq(b.id))) putInstance(state, i);
  for (const n of stored.nodes) state.nodes.set(n.name, { ...n });
  state.nextInstanceSeq = stored.nextInstanceSeq;
  for (const f of stored.failures) if (isCurrentFailure(state, f)) recordCrash(state, f.workload, f.node, f.at);
  for (const { hash, ...t } of stored.tokens) state.tokens.set(hash, t);
  for (const { node, ...identity } of stored.nodeIdentities ?? []) {
    state.nodeIdentities.set(node, { ...identity, keyDigest: identity.keyDigest ?? null });
    if (identity.removed) state.removedNodes.add(node);
  }
  for (const r of stored.secrets ?? []) state.secrets.set(secretId(r.kind, r.name), r);
  if (stored.listeningSince !== undefined) state.listeningSince = stored.listeningSince;
  return state;
}

/** The state a control plane starts leading from, rebuilt from what its store kept: no agent stream survives. */
export function restoreState(stored: StoredState): ClusterState {
  return dropAgentStreams(storedState(stored));
}

/**
 * Whether a stored failure is of its workload's current template, as evolve records them: the
 * workload exists and its template has not changed since. A copy the state still holds says
 * which template it ran; a forgotten one is judged by the time alone.
 */
function isCurrentFailure(state: ClusterState, f: StoredState["failures"][number]): boolean {
  const w = state.workloads.get(f.workload);
  if (w === undefined || f.at < w.templateChangedAt) return false;
  const inst = state.instances.get(f.instance);
  return inst === undefined || runsCurrentTemplate(w, inst);
}

/**
 * No agent stream survives a restart or a change of leader: every node waits for its agent's
 * hello again (a new session). What a state restored from the store, or followed from the
 * log by a standby that now leads, starts with; ListeningStarted records the same.
 */
export function dropAgentStreams(state: ClusterState): ClusterState {
  for (const node of state.nodes.values()) {
    node.connected = false;
    node.session = 0;
  }
  return state;
}
