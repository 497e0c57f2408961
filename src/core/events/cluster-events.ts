/**
 * The events that change the control plane's state, and the two ways a state is built:
 * folding events (replay) or restoring what the store kept (restoreState). PURE.
 *
 * `evolve` is the only function that changes a ClusterState. It applies one recorded event in
 * place (copying 100,000-entry maps per event would make the single writer slow) and is
 * deterministic, so folding a log of events from an empty state rebuilds the same view.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { runsCurrentTemplate } from "../model/cluster-status.js";
import {
  type BatchOutcome,
  type Capacity,
  type NodeLimits,
  checkFailureReason,
  CRASH_HISTORY,
  type ClusterState,
  emptyState,
  type Instance,
  instanceName,
  instanceSeq,
  isCheckFailure,
  type NodeIdentity,
  type NodeRecord,
  STALLED,
  type TokenKind,
  type TokenRecord,
  type Workload,
} from "../model/cluster-state.js";
import { EVENT_FACTS } from "./event-facts.js";
import { type InstanceEvent, transition } from "../model/instance-machine.js";
import type { NodeHealth } from "../model/node-health.js";
import { NO_PORTS, type NodePorts } from "../model/ports.js";
import { kindOf, sameTemplate } from "../model/spec.js";
import type { HostVolume } from "../model/volumes.js";
import { type IdentityEvent, identityEvolvers } from "../access/node-identity.js";

/**
 * Why a control plane (re)started listening to agents; more causes come with leadership.
 * "fleet-returned": it had heard no node for the Offline threshold (it was the one cut off,
 * most likely) and one came back: the others get the grace of a restart to follow.
 */
export type ListeningCause = "start" | "store-recovered" | "fleet-returned";

/** Version of the event schema written to the log. Bump it when an event's shape changes. */
export const EVENT_VERSION = 1;

/** Facts recorded in the event log, past tense. */
export type ClusterEvent =
  | {
      type: "WorkloadApplied";
      at: number;
      workload: Omit<Workload, "deleting" | "createdAt" | "restartSeq" | "templateChangedAt" | "progressSince" | "previousSpec" | "previousTemplateGeneration" | "failures" | "finished" | "promoted" | "stable" | "quarantined" | "reverted" | "paused" | "wave" | "rolloutHold">;
      previousSpec?: WorkloadSpec | null;
      /** Applied with force: a quarantined spec it names is no longer refused. */
      forced?: true;
      /** A `rollout undo`: `to` the revision asked for; absent for the spec before the last change. */
      undo?: { to?: number };
    }
  | { type: "WorkloadRestartRequested"; at: number; name: string; restartSeq: number }
  | { type: "WorkloadDeleteRequested"; at: number; name: string }
  | { type: "WorkloadRemoved"; at: number; name: string }
  /** The rollout of the workload's current template goes past its canaries (`by` a person, or auto_promote). */
  | { type: "RolloutPromoted"; at: number; name: string; by: string }
  /** `rollout pause` (paused) or `rollout resume` (not), `by` whom. */
  | { type: "RolloutPaused"; at: number; name: string; paused: boolean; by: string }
  /**
   * A delivery gate (canary, soak, wave, paused) now holds the workload's rollout, with why; gate ""
   * when none does any more. Recorded when the holding gate changes, not every pass.
   */
  | { type: "RolloutHeld"; at: number; name: string; gate: string; reason: string }
  /**
   * `by` lifted the workload's crash-loop quarantine on `node` (every node when absent): its
   * failure history there starts over.
   */
  | { type: "QuarantineLifted"; at: number; name: string; node?: string; by: string }
  /** The rollout moves on to replacing the old copies of wave `wave` (0-based) of `waves`. */
  | { type: "RolloutWaveStarted"; at: number; name: string; wave: number; waves: number }
  /**
   * The rollout of `generation` did not complete within its progress deadline and nothing
   * reverts it (no auto_revert, or no completed spec to go back to); it goes on trying.
   */
  | { type: "RolloutStalled"; at: number; name: string; generation: number; reason: string }
  /** Every copy of the current template is available: this spec is the one auto_revert goes back to. */
  | { type: "RolloutCompleted"; at: number; name: string; generation: number }
  /**
   * The rollout of `failedGeneration` failed (auto_revert): the workload goes back to its last
   * completed spec as a new generation, and the failed spec is quarantined.
   */
  | { type: "RolloutReverted"; at: number; name: string; failedGeneration: number; generation: number; reason: string; to: number }
  /** A batch workload is Complete or Failed (the reconciler's verdict); its copies are done. */
  | ({ type: "WorkloadFinished"; name: string } & BatchOutcome)
  /** A finished batch workload's ttl_after_finished passed: it is deleted as if asked to. */
  | { type: "WorkloadExpired"; at: number; name: string }
  | {
      type: "InstanceCreated";
      at: number;
      id: string;
      workload: string;
      index: number;
      generation: number;
      attempt: number;
      resources: Capacity;
      readinessChecks: string[];
      reason: string;
    }
  /** A Pending instance still waits for a node, now for another reason (the reconciler's, each pass). */
  | { type: "InstanceWaiting"; at: number; id: string; reason: string }
  /** `detail`: a failing check's last error, which becomes the copy's reason (absent in logs from before). */
  | { type: "InstanceCheckReported"; at: number; id: string; check: string; passing: boolean; detail?: string }
  | { type: "InstanceTransitioned"; at: number; id: string; event: InstanceEvent }
  | { type: "InstanceRemoved"; at: number; id: string }
  /** Someone ran a command in a running copy (`tessera ctl exec`); its output is not recorded. */
  | { type: "InstanceExecStarted"; at: number; id: string; node: string; command: string[]; by: string }
  | {
      type: "NodeConnected";
      at: number;
      name: string;
      session: number;
      executors: string[];
      version: string;
      labels: Record<string, string>;
      capacity: Capacity;
      /** Absent in logs from before ports: such a node offers none. */
      ports?: NodePorts;
      /** Absent in logs from before host volumes: such a node offers none. */
      volumes?: HostVolume[];
      /** Absent in logs from before limits, and for agents that said nothing of them. */
      limits?: NodeLimits;
    }
  | { type: "NodeDisconnected"; at: number; name: string }
  | { type: "NodeHealthChanged"; at: number; name: string; from: NodeHealth; to: NodeHealth }
  | { type: "NodeCordoned"; at: number; name: string }
  | { type: "NodeUncordoned"; at: number; name: string }
  | { type: "NodeDrainStarted"; at: number; name: string }
  /**
   * The control plane listens to agents from now on, after not hearing them: it started
   * (with the state it stored), its store could write again after failing, or the first
   * node came back after every node had gone Offline.
   */
  | { type: "ListeningStarted"; at: number; cause: ListeningCause }
  /**
   * An API token was issued; the log keeps its SHA-256, never the secret. An admin or join
   * token revokes the earlier ones of its kind. `by` says who asked (for history).
   */
  | {
      type: "TokenIssued";
      at: number;
      kind: TokenKind;
      hash: string;
      by: string;
      /** When it stops working; absent: never. */
      expiresAt?: number;
      /** Join tokens: how many enrollments it is good for; absent: any number. */
      uses?: number;
      /** A token created beside the others of its kind (a bootstrap join token), not a rotation. */
      keepOthers?: boolean;
    }
  | IdentityEvent
  /** Volatile: evolves the state but is not written to the log (one per node per second). */
  | { type: "NodeHeartbeatReceived"; at: number; name: string };
export type ClusterEventType = ClusterEvent["type"];

/** Events that are applied but not logged. */
export function isVolatile(event: ClusterEvent): boolean {
  return EVENT_FACTS[event.type].volatile;
}

type Evolver<K extends ClusterEventType> = (state: ClusterState, event: Extract<ClusterEvent, { type: K }>) => void;

const evolvers: { [K in ClusterEventType]: Evolver<K> } = {
  WorkloadApplied(state, e) {
    const prior = state.workloads.get(e.workload.name);
    const templateChanged = prior === undefined || prior.templateGeneration !== e.workload.templateGeneration;
    // Back to the template an earlier generation's copies run (decide.ts keepsCopiesOf): they
    // stay current, and the copies of the generations since are outdated.
    const backTo = prior !== undefined && e.workload.templateGeneration < prior.templateGeneration;
    // A crash-loop quarantine is the failed spec's: a changed one is placed at once.
    if (templateChanged) state.crashes.delete(e.workload.name);
    // A change that replaces no copy of a completed rollout completes at once: it is what
    // auto_revert goes back to from now on.
    const completedAtOnce = !templateChanged && prior.stable !== null && prior.stable.generation === prior.templateGeneration;
    state.workloads.set(e.workload.name, {
      ...e.workload,
      deleting: false,
      createdAt: prior?.createdAt ?? e.at,
      restartSeq: prior?.restartSeq ?? 0,
      templateChangedAt: templateChanged ? e.at : prior.templateChangedAt,
      progressSince: templateChanged ? e.at : prior.progressSince,
      previousSpec: e.previousSpec !== undefined ? e.previousSpec : (prior?.previousSpec ?? null),
      previousTemplateGeneration: e.previousSpec !== undefined && prior !== undefined ? prior.templateGeneration : (prior?.previousTemplateGeneration ?? 0),
      // A batch whose runs change starts over.
      failures: templateChanged ? 0 : prior.failures,
      finished: templateChanged ? null : prior.finished,
      promoted: templateChanged ? false : prior.promoted,
      reverted: backTo ? { from: prior.templateGeneration, to: prior.generation } : templateChanged ? null : prior.reverted,
      paused: prior?.paused ?? false,
      wave: templateChanged ? -1 : prior.wave,
      rolloutHold: templateChanged ? "" : prior.rolloutHold,
      stable: completedAtOnce ? { spec: e.workload.spec, generation: prior.stable!.generation } : (prior?.stable ?? null),
      quarantined: e.forced ? (prior?.quarantined ?? []).filter((q) => !sameTemplate(q.spec, e.workload.spec)) : (prior?.quarantined ?? []),
    });
  },
  QuarantineLifted(state, e) {
    must(state.workloads, e.name, "workload");
    const byNode = state.crashes.get(e.name);
    if (e.node !== undefined) byNode?.delete(e.node);
    // A workload with no failure left has no entry: only workloads with one are looked at.
    if (e.node === undefined || byNode?.size === 0) state.crashes.delete(e.name);
  },
  RolloutPaused(state, e) {
    const w = must(state.workloads, e.name, "workload");
    w.paused = e.paused;
    // A paused rollout waits on an operator: its deadline counts again from the resume, and a
    // stall recorded before no longer stands.
    w.progressSince = e.at;
    if (w.rolloutHold === STALLED) w.rolloutHold = "";
  },
  RolloutHeld(state, e) {
    must(state.workloads, e.name, "workload").rolloutHold = e.gate;
  },
  RolloutStalled(state, e) {
    must(state.workloads, e.name, "workload").rolloutHold = STALLED;
  },
  RolloutWaveStarted(state, e) {
    must(state.workloads, e.name, "workload").wave = e.wave;
  },
  RolloutPromoted(state, e) {
    const w = must(state.workloads, e.name, "workload");
    w.promoted = true;
    // The time its canaries waited for the promotion does not count against the deadline.
    w.progressSince = e.at;
    if (w.rolloutHold === STALLED) w.rolloutHold = "";
  },
  RolloutCompleted(state, e) {
    const w = must(state.workloads, e.name, "workload");
    w.stable = { spec: w.spec, generation: e.generation };
    w.rolloutHold = "";
  },
  RolloutReverted(state, e) {
    const w = must(state.workloads, e.name, "workload");
    if (w.stable === null) throw new Error(`event log is inconsistent: ${e.name} reverted without a completed rollout`);
    const failed = w.spec;
    w.quarantined = [...w.quarantined.filter((q) => !sameTemplate(q.spec, failed)), { spec: failed, generation: e.failedGeneration, reason: e.reason }].slice(-MAX_QUARANTINED);
    w.previousSpec = failed;
    w.previousTemplateGeneration = w.templateGeneration;
    // The restored spec's copies, still running, stay current; the failed spec's are outdated.
    w.reverted = { from: w.templateGeneration, to: w.generation };
    w.spec = w.stable.spec;
    w.generation = e.generation;
    w.templateGeneration = w.stable.generation;
    w.templateChangedAt = e.at;
    w.progressSince = e.at;
    w.promoted = false;
    w.wave = -1;
    w.rolloutHold = "";
    state.crashes.delete(e.name);
  },
  WorkloadRestartRequested(state, e) {
    must(state.workloads, e.name, "workload").restartSeq = e.restartSeq;
  },
  WorkloadDeleteRequested(state, e) {
    must(state.workloads, e.name, "workload").deleting = true;
  },
  WorkloadRemoved(state, e) {
    must(state.workloads, e.name, "workload");
    state.workloads.delete(e.name);
    // A workload created again under the name starts without the old one's quarantine.
    state.crashes.delete(e.name);
  },
  WorkloadFinished(state, e) {
    must(state.workloads, e.name, "workload").finished = { at: e.at, outcome: e.outcome, reason: e.reason };
  },
  WorkloadExpired(state, e) {
    must(state.workloads, e.name, "workload").deleting = true;
  },
  InstanceCreated(state, e) {
    state.nextInstanceSeq = Math.max(state.nextInstanceSeq, instanceSeq(e.id) + 1);
    putInstance(state, {
      id: e.id,
      name: instanceName(e.workload, e.index),
      workload: e.workload,
      index: e.index,
      generation: e.generation,
      node: null,
      desired: "run",
      state: "pending",
      attempt: e.attempt,
      resources: e.resources,
      readinessChecks: e.readinessChecks ?? [],
      passing: [],
      ports: [],
      reason: e.reason,
      exitCode: null,
      stderrTail: "",
      failedAt: null,
      runningSince: null,
      readySince: null,
      updatedAt: e.at,
    });
  },
  InstanceTransitioned(state, e) {
    const inst = must(state.instances, e.id, "instance");
    const result = transition(inst.state, e.event);
    if (!result.ok) throw new Error(`event log is inconsistent: ${inst.id} cannot ${e.event.type} from ${inst.state}`);
    // A run of a batch that failed (not a copy failing to stop) counts toward its backoff limit.
    if (e.event.type === "fail" && inst.state !== "stopping") countBatchFailure(state, inst.workload);
    inst.state = result.state;
    inst.updatedAt = e.at;
    // Checks speak for a running copy only; a new run starts without verdicts. A Lost copy
    // keeps its last verdicts: if its node returns and it is reclaimed, they still hold (the
    // agent's reports of any change while away follow its hello).
    if ((inst.state !== "running" && inst.state !== "lost") || e.event.type === "run") {
      inst.passing = [];
      // Nor does a check's failure say any more why it is not Ready.
      if (isCheckFailure(inst.reason)) inst.reason = "";
    }
    switch (e.event.type) {
      case "place":
        inst.node = e.event.node;
        inst.ports = e.event.ports ?? [];
        inst.reason = "";
        break;
      case "fail":
        inst.reason = e.event.reason;
        inst.exitCode = e.event.exitCode ?? null;
        inst.stderrTail = e.event.stderrTail ?? "";
        inst.failedAt = e.at;
        if (inst.node !== null && countsForQuarantine(state, inst)) recordCrash(state, inst.workload, inst.node, e.at);
        break;
      case "run":
        inst.runningSince = e.at;
        break;
      case "lose":
        inst.desired = "stop";
        inst.reason = `node ${inst.node} went offline`;
        break;
      case "reclaim":
        inst.desired = "run";
        inst.reason = "";
        break;
      case "stop":
        inst.desired = "stop";
        if (inst.reason === "") inst.reason = e.event.reason;
        break;
      case "finish":
        if (e.event.exitCode !== undefined) inst.exitCode = e.event.exitCode;
        break;
    }
    trackReady(inst, e.at);
  },
  InstanceWaiting(state, e) {
    must(state.instances, e.id, "instance").reason = e.reason;
  },
  InstanceCheckReported(state, e) {
    const inst = must(state.instances, e.id, "instance");
    const others = inst.passing.filter((c) => c !== e.check);
    inst.passing = e.passing ? [...others, e.check].sort() : others;
    if (!e.passing && e.detail !== undefined) inst.reason = checkFailureReason(e.check, e.detail);
    else if (e.passing && isCheckFailure(inst.reason, e.check)) inst.reason = "";
    trackReady(inst, e.at);
  },
  InstanceRemoved(state, e) {
    dropInstance(state, must(state.instances, e.id, "instance"));
  },
  // A record for the audit trail: running a command changes nothing the control plane holds.
  InstanceExecStarted() {},
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
  TokenIssued(state, e) {
    if (e.kind !== "readonly" && !e.keepOthers) for (const [hash, t] of state.tokens) if (t.kind === e.kind) state.tokens.delete(hash);
    state.tokens.set(e.hash, { kind: e.kind, createdAt: e.at, expiresAt: e.expiresAt ?? null, usesLeft: e.uses ?? null });
  },
  ...identityEvolvers,
  ListeningStarted(state, e) {
    state.listeningSince = e.at;
    dropAgentStreams(state);
  },
};

/** Specs a workload remembers as failed rollouts, at most (the oldest goes). */
const MAX_QUARANTINED = 10;

/**
 * Keeps `readySince`: set when the copy becomes Ready (running, every readiness check passing),
 * cleared when it stops being so. A Lost copy keeps it, as it keeps its verdicts: reclaimed, it
 * is as Ready as it was.
 */
function trackReady(inst: Instance, at: number): void {
  const ready = inst.state === "running" && inst.readinessChecks.every((c) => inst.passing.includes(c));
  if (ready) inst.readySince ??= at;
  else if (inst.state !== "lost") inst.readySince = null;
}

function countBatchFailure(state: ClusterState, name: string): void {
  const w = state.workloads.get(name);
  if (w !== undefined && kindOf(w.spec) === "batch") w.failures++;
}

/** Whether a copy's failure is its workload's current template's (an older spec's quarantine holds no changed one). */
function countsForQuarantine(state: ClusterState, inst: Instance): boolean {
  const w = state.workloads.get(inst.workload);
  return w !== undefined && runsCurrentTemplate(w, inst);
}

/** Appends a failure time to the bounded history of (workload, node). */
function recordCrash(state: ClusterState, workload: string, node: string, at: number): void {
  let byNode = state.crashes.get(workload);
  if (!byNode) state.crashes.set(workload, (byNode = new Map()));
  const times = byNode.get(node) ?? [];
  times.push(at);
  if (times.length > CRASH_HISTORY) times.shift();
  byNode.set(node, times);
}

/** The entry an event refers to; a log that names a missing one is refused, loudly. */
function must<V>(map: Map<string, V>, key: string, what: string): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`event log is inconsistent: unknown ${what} ${key}`);
  return value;
}

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
}

/** The leader's state as its store kept it at its last commit: what a follower starts from. */
export function storedState(stored: StoredState): ClusterState {
  const state = emptyState();
  for (const w of stored.workloads) state.workloads.set(w.name, w);
  for (const i of stored.instances) putInstance(state, i);
  for (const n of stored.nodes) state.nodes.set(n.name, { ...n });
  state.nextInstanceSeq = stored.nextInstanceSeq;
  for (const f of stored.failures) if (isCurrentFailure(state, f)) recordCrash(state, f.workload, f.node, f.at);
  for (const { hash, ...t } of stored.tokens) state.tokens.set(hash, t);
  for (const { node, ...identity } of stored.nodeIdentities ?? []) state.nodeIdentities.set(node, identity);
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

/** Adds (or replaces) an instance and indexes it under its workload. */
function putInstance(state: ClusterState, inst: Instance): void {
  state.instances.set(inst.id, inst);
  let ids = state.instancesByWorkload.get(inst.workload);
  if (!ids) state.instancesByWorkload.set(inst.workload, (ids = new Set()));
  ids.add(inst.id);
}

function dropInstance(state: ClusterState, inst: Instance): void {
  state.instances.delete(inst.id);
  const ids = state.instancesByWorkload.get(inst.workload);
  ids?.delete(inst.id);
  if (ids?.size === 0) state.instancesByWorkload.delete(inst.workload);
}
