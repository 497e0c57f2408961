/**
 * What each event type is, in one table: which records it changes, whether it is logged, and
 * what replay does with it. PURE.
 *
 * The store, the event log's reader and what-if all read this table; it is typed over every
 * ClusterEvent type, so a new event without an entry does not compile.
 */
import { transition } from "../model/instance-machine.js";
import type { ClusterEvent, ClusterEventType } from "./cluster-events.js";
import { type ClusterState, type TokenKind, workloadOfInstanceId } from "../model/cluster-state.js";
import { secretId } from "../model/secrets.js";

/** The records an event changes: the store rewrites their rows and indexes the event by them. */
export interface Touched {
  workload?: string;
  instance?: string;
  node?: string;
  /** The active tokens of this kind (a new one may revoke the others). */
  tokens?: TokenKind;
  /** When listening started, and every node: no agent stream is open any more. */
  listening?: true;
  /** The node whose identity (its current certificate, node-identity.ts) changed. */
  identity?: string;
  /** The secret or config (its secretId) whose versions changed. */
  secret?: string;
}

/**
 * Where an event comes from, for replay (what-if), which keeps inputs and lets the core decide
 * again the rest. "input": a request, an agent's report, or an observation the log stands in
 * for; "decision": the reconciler's.
 */
export type Origin = "input" | "decision";

type EventOf<K extends ClusterEventType> = Extract<ClusterEvent, { type: K }>;

interface Facts<K extends ClusterEventType> {
  touches(e: EventOf<K>): Touched;
  /** Applied but never written to the log (one per node per second). */
  volatile: boolean;
  origin(e: EventOf<K>): Origin;
  /**
   * For an input: whether it still applies to a re-run state in which earlier inputs
   * moved (what it names exists, its transition is allowed). Replay skips it otherwise.
   */
  fits(state: ClusterState, e: EventOf<K>): boolean;
}

/** Who promotes a rollout when auto_promote does (RolloutPromoted.by). */
export const AUTO_PROMOTE = "auto_promote";

const input = (): Origin => "input";
const decision = (): Origin => "decision";
const always = () => true;
const notInput = () => false;
const workloadExists = (state: ClusterState, e: { name: string }) => state.workloads.has(e.name);
const nodeExists = (state: ClusterState, e: { name: string }) => state.nodes.has(e.name);
const node = (e: { name: string }): Touched => ({ node: e.name });

export const EVENT_FACTS: { [K in ClusterEventType]: Facts<K> } = {
  // A periodic batch's run on schedule is the reconciler's; one started by hand, an input.
  WorkloadApplied: { touches: (e) => ({ workload: e.workload.name }), volatile: false, origin: (e) => (e.run !== undefined && !e.run.manual ? "decision" : "input"), fits: always },
  PeriodicRunStarted: { touches: (e) => ({ workload: e.name }), volatile: false, origin: (e) => (e.manual ? "input" : "decision"), fits: workloadExists },
  PeriodicRunSkipped: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  WorkloadRestartRequested: { touches: (e) => ({ workload: e.name }), volatile: false, origin: input, fits: workloadExists },
  WorkloadDeleteRequested: { touches: (e) => ({ workload: e.name }), volatile: false, origin: input, fits: workloadExists },
  WorkloadRemoved: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  // Promoted by a person (an input), or by auto_promote (the reconciler's decision).
  RolloutPromoted: { touches: (e) => ({ workload: e.name }), volatile: false, origin: (e) => (e.by === AUTO_PROMOTE ? "decision" : "input"), fits: (state, e) => state.workloads.get(e.name)?.promoted === false },
  RolloutPaused: { touches: (e) => ({ workload: e.name }), volatile: false, origin: input, fits: workloadExists },
  // The node (when one is named) indexes the event, so a restart's failure history can see it.
  QuarantineLifted: { touches: (e) => (e.node === undefined ? { workload: e.name } : { workload: e.name, node: e.node }), volatile: false, origin: input, fits: workloadExists },
  RolloutHeld: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  RolloutWaveStarted: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  RolloutStalled: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  RolloutCompleted: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  RolloutReverted: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  WorkloadFinished: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  WorkloadExpired: { touches: (e) => ({ workload: e.name }), volatile: false, origin: decision, fits: notInput },
  // Its workload's row is unchanged (no rewrite per placement); the log's workload column comes from the id.
  InstanceCreated: { touches: (e) => ({ instance: e.id }), volatile: false, origin: decision, fits: notInput },
  InstanceWaiting: { touches: (e) => ({ instance: e.id }), volatile: false, origin: decision, fits: notInput },
  InstanceCheckReported: { touches: (e) => ({ instance: e.id }), volatile: false, origin: input, fits: (state, e) => state.instances.has(e.id) },
  InstanceTransitioned: {
    // A batch's failures are counted on its workload (a fail rewrites its row too).
    touches: (e) => (e.event.type === "fail" ? { instance: e.id, workload: workloadOfInstanceId(e.id) } : { instance: e.id }),
    volatile: false,
    origin(e) {
      switch (e.event.type) {
        // What agents report, and a hello's taking back of a Lost copy (decide/agent-sessions.ts).
        case "provision":
        case "run":
        case "fail":
        case "finish":
        case "reclaim":
        // A batch copy's exit 0, as its agent reported it.
        case "succeed":
          return "input";
        // A hello's catch-up says so on the event; every other stop is the reconciler's.
        case "stop":
          return e.event.caughtUp ? "input" : "decision";
        case "place":
        case "lose":
          return "decision";
      }
    },
    fits(state, e) {
      const inst = state.instances.get(e.id);
      return inst !== undefined && transition(inst.state, e.event).ok;
    },
  },
  InstanceRemoved: { touches: (e) => ({ instance: e.id }), volatile: false, origin: decision, fits: notInput },
  InstanceExecStarted: { touches: (e) => ({ instance: e.id }), volatile: false, origin: input, fits: (state, e) => state.instances.has(e.id) },
  NodeConnected: { touches: node, volatile: false, origin: input, fits: always },
  NodeDisconnected: { touches: node, volatile: false, origin: input, fits: nodeExists },
  // The reconciler records it from heartbeats, which are not logged: replay takes the recorded
  // changes as the health its planner uses (Policy.recordedHealth).
  NodeHealthChanged: { touches: node, volatile: false, origin: input, fits: (state, e) => state.nodes.get(e.name)?.health === e.from },
  NodeCordoned: { touches: node, volatile: false, origin: input, fits: nodeExists },
  NodeUncordoned: { touches: node, volatile: false, origin: input, fits: nodeExists },
  NodeDrainStarted: { touches: node, volatile: false, origin: input, fits: nodeExists },
  // Node rows do not hold what it changes (stream state, the listening time).
  ListeningStarted: { touches: () => ({ listening: true }), volatile: false, origin: input, fits: always },
  TokenIssued: { touches: (e) => ({ tokens: e.kind }), volatile: false, origin: input, fits: always },
  TokenRevoked: { touches: (e) => ({ tokens: e.kind }), volatile: false, origin: input, fits: always },
  NodeCertified: { touches: (e) => ({ node: e.node, identity: e.node, ...(e.token !== undefined && { tokens: "join" as const }) }), volatile: false, origin: input, fits: always },
  NodeApproved: { touches: (e) => ({ node: e.node, identity: e.node }), volatile: false, origin: input, fits: always },
  NodeRemoved: { touches: (e) => ({ node: e.node, identity: e.node }), volatile: false, origin: input, fits: always },
  NodeHeartbeatReceived: { touches: node, volatile: true, origin: input, fits: nodeExists },
  SecretUpdated: { touches: (e) => ({ secret: secretId(e.kind, e.name) }), volatile: false, origin: input, fits: always },
  SecretDeleted: { touches: (e) => ({ secret: secretId(e.kind, e.name) }), volatile: false, origin: input, fits: (state, e) => state.secrets.has(secretId(e.kind, e.name)) },
  SecretResealed: { touches: (e) => ({ secret: secretId("secret", e.name) }), volatile: false, origin: input, fits: (state, e) => state.secrets.has(secretId("secret", e.name)) },
};

/**
 * An event as the log records it and every reader of the log (Watch, history, the event
 * stream) sees it: a secret's payload is left out (invariant: no value in the log). Replay
 * then rebuilds versions without payloads, which nothing decided needs.
 */
export function loggedForm(e: ClusterEvent): ClusterEvent {
  if (e.type === "SecretResealed") return { ...e, versions: e.versions.map((v) => ({ version: v.version, digest: v.digest })) };
  if (e.type !== "SecretUpdated" || e.payload === undefined) return e;
  const { payload: _, ...rest } = e;
  return rest;
}

/** The entry of an event's own type. */
function factsOf(e: ClusterEvent): Facts<ClusterEventType> {
  return EVENT_FACTS[e.type] as Facts<ClusterEventType>;
}

export function touches(e: ClusterEvent): Touched {
  return factsOf(e).touches(e);
}

export function originOf(e: ClusterEvent): Origin {
  return factsOf(e).origin(e);
}

export function fits(state: ClusterState, e: ClusterEvent): boolean {
  return factsOf(e).fits(state, e);
}

/** Whether a logged record names an event type this build knows. */
export function isEventType(type: string): type is ClusterEventType {
  return Object.hasOwn(EVENT_FACTS, type);
}

/** Events that are applied but not logged. */
export function isVolatile(event: ClusterEvent): boolean {
  return EVENT_FACTS[event.type].volatile;
}
