/**
 * The instance lifecycle state machine. PURE: no I/O, no clock.
 *
 * The same module runs in the control plane (its record of every instance) and in the agent
 * (the instances it holds), so both sides agree on what a transition means. Every
 * (state, event) pair is either listed in TRANSITIONS or refused with InvalidTransition.
 */
import type { AssignedPort } from "./ports.js";

export const INSTANCE_STATES = [
  "pending",
  "scheduled",
  "provisioning",
  "running",
  "failed",
  "stopping",
  "stopped",
  "lost",
  "succeeded",
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** Events the machine consumes. Each is a fact about one instance. */
export type InstanceEvent =
  /** The control plane assigned the instance to a node, with the host ports it gets there (none: no key, as in logs from before ports). */
  | { type: "place"; node: string; ports?: AssignedPort[] }
  /** The agent began starting it. */
  | { type: "provision" }
  /** Its process or container runs. */
  | { type: "run" }
  /** It exited or could not start; `stderrTail` is the end of what it wrote to stderr (see stderr-tail.ts). */
  | { type: "fail"; reason: string; exitCode?: number; stderrTail?: string }
  /** A stop was requested. */
  | {
      type: "stop";
      reason: string;
      /**
       * Set when a reconnecting agent's hello recorded it, catching the record up with a copy
       * the agent no longer runs (an observation, not a decision): replay keeps it as an input.
       */
      caughtUp?: true;
    }
  /** It no longer runs. */
  | { type: "finish"; exitCode?: number }
  /**
   * A batch copy exited 0: its run is done. Agents report every exit as a failure with its
   * code; the control plane, which knows the workload's kind, decides this.
   */
  | { type: "succeed" }
  /** Its node went Offline: nobody knows whether it still runs. */
  | { type: "lose" }
  /** Its node came back still running it, and nothing replaced it yet: it is wanted again. */
  | { type: "reclaim" };
export type InstanceEventType = InstanceEvent["type"];
export const INSTANCE_EVENT_TYPES = ["place", "provision", "run", "fail", "stop", "finish", "lose", "reclaim", "succeed"] as const satisfies readonly InstanceEventType[];

/** The whole table. A missing entry is a refusal. */
export const TRANSITIONS: { readonly [S in InstanceState]: { readonly [E in InstanceEventType]?: InstanceState } } = {
  pending: { place: "scheduled", stop: "stopped" },
  scheduled: { provision: "provisioning", fail: "failed", stop: "stopping", lose: "lost" },
  provisioning: { run: "running", fail: "failed", stop: "stopping", lose: "lost", succeed: "succeeded" },
  running: { fail: "failed", stop: "stopping", lose: "lost", succeed: "succeeded" },
  failed: { stop: "stopping" },
  stopping: { finish: "stopped", fail: "failed", lose: "lost" },
  stopped: {},
  // If its node returns still running it: when no replacement runs yet, it is taken back
  // (reclaim) and the replacement cancelled; otherwise the agent is told to stop it and
  // reports it stopped (finish), and the record stays Lost until then.
  lost: { finish: "stopped", reclaim: "running" },
  // Done for good: its index never runs again (until the batch's template changes).
  succeeded: {},
};

export interface InvalidTransition {
  kind: "InvalidTransition";
  from: InstanceState;
  event: InstanceEventType;
}

export type TransitionResult = { ok: true; state: InstanceState } | { ok: false; rejection: InvalidTransition };

/** Returns the state an event leads to, or names the refusal. Never throws. */
export function transition(from: InstanceState, event: InstanceEvent): TransitionResult {
  const to = TRANSITIONS[from][event.type];
  return to === undefined ? { ok: false, rejection: { kind: "InvalidTransition", from, event: event.type } } : { ok: true, state: to };
}

/** States in which an instance runs, or is about to, on its node. */
export function isLive(state: InstanceState): boolean {
  return state === "scheduled" || state === "provisioning" || state === "running";
}

/** States in which an instance holds resources on its node. */
export function occupiesNode(state: InstanceState): boolean {
  return isLive(state) || state === "stopping";
}

/** Not yet finished: counted against a workload's replicas + max_surge. */
export function isNonTerminal(state: InstanceState): boolean {
  return state === "pending" || occupiesNode(state);
}

/**
 * The events an agent originates, keyed by the state they enter. An agent reports the state
 * its instance entered; the control plane turns it back into the event with this table.
 */
export const REPORTED_EVENTS = {
  provisioning: "provision",
  running: "run",
  failed: "fail",
  stopped: "finish",
} as const satisfies { [S in InstanceState]?: InstanceEventType };
export type ReportedState = keyof typeof REPORTED_EVENTS;

export function isReportedState(state: InstanceState): state is ReportedState {
  return state in REPORTED_EVENTS;
}

/**
 * Events a catch-up may pass through: all but those the control plane decides about a node's
 * absence (lose, reclaim), which an agent's report can never imply.
 */
const CATCH_UP_EVENTS = INSTANCE_EVENT_TYPES.filter((t) => t !== "lose" && t !== "reclaim");

/**
 * The shortest sequence of event types leading from one state to another, or undefined when
 * none does. Used to catch a record up with what an agent says it holds after a reconnect.
 */
export function pathBetween(from: InstanceState, to: InstanceState): InstanceEventType[] | undefined {
  const seen = new Set<InstanceState>([from]);
  let frontier: Array<{ state: InstanceState; path: InstanceEventType[] }> = [{ state: from, path: [] }];
  while (frontier.length > 0) {
    const next: typeof frontier = [];
    for (const { state, path } of frontier) {
      if (state === to) return path;
      for (const type of CATCH_UP_EVENTS) {
        const target = TRANSITIONS[state][type];
        if (target !== undefined && !seen.has(target)) {
          seen.add(target);
          next.push({ state: target, path: [...path, type] });
        }
      }
    }
    frontier = next;
  }
  return undefined;
}
