/**
 * What deciding a command returns, and the one shape of a decider. PURE.
 * A decider reads the state and never mutates it; the single writer applies the events it
 * returns with `evolve`.
 */
import type { Effect } from "../model/effects.js";
import type { ClusterState } from "../model/cluster-state.js";
import type { ClusterEvent } from "../events/cluster-events.js";
import type { Rejection } from "../model/rejections.js";
import type { CommandOf, CommandType } from "./commands.js";

export interface Decision {
  events: ClusterEvent[];
  effects: Effect[];
  /**
   * Set when the command was refused; then no events are recorded. Effects may remain: a
   * report about an instance nobody knows is refused AND that instance is told to stop.
   */
  rejection?: Rejection;
  /** For ApplyWorkload: what it did. */
  applied?: ApplyOutcome;
  /** For ApplyWorkloads: what it did, per workload in the command's order. */
  appliedEach?: ApplyOutcome[];
}

/** What an apply did to a workload: new, a changed spec (a new generation), only new labels, nothing. */
export type ApplyOutcome = "created" | "configured" | "relabeled" | "unchanged";

/** Decides one input against the state: a command (`decide`), or what replay admits again (what-if). */
export type Decider<C> = (state: ClusterState, input: C, now: number) => Decision;

/** A decider for every command type, each typed by its own command: the compiler names the one forgotten. */
export type Deciders = { [K in CommandType]: Decider<CommandOf<K>> };

export const accept = (events: ClusterEvent[] = [], effects: Effect[] = [], applied?: ApplyOutcome): Decision => ({ events, effects, applied });
export const refuse = (rejection: Rejection): Decision => ({ events: [], effects: [], rejection });
