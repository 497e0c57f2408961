/**
 * One turn of the single writer, as a function: decide every queued command, reconcile once
 * if anything changed, and return what happened. The writer (src/control/writer/writer.ts) is this
 * plus I/O; replay tests fold recorded turns through it and compare the plans, and what-if
 * (what-if.ts) runs a log's inputs through it, so replay decides as the writer did.
 *
 * Applies the returned events to `state` in place (see events/evolve.ts for why).
 */
import type { Command } from "../decide/commands.js";
import type { Decider, Decision } from "../decide/decision.js";
import { decide } from "../decide/decide.js";
import type { Effect } from "../model/effects.js";
import type { ClusterEvent } from "../events/cluster-events.js";
import { evolve } from "../events/evolve.js";
import { isVolatile } from "../events/event-facts.js";
import type { ClusterState } from "../model/cluster-state.js";
import { planToEvents } from "./plan-to-events.js";
import type { QuietWorkloads } from "./quiet.js";
import { enablesMore, isEmptyPlan, mergePlans, type Plan, type Policy, plan } from "./reconcile.js";

export interface TurnResult {
  decisions: Decision[];
  events: ClusterEvent[];
  effects: Effect[];
  /** The reconcile pass, when one ran. */
  plan?: Plan;
}

/** Upper bound on reconcile passes in one turn (each pass may enable the next). */
const MAX_PASSES = 4;

/** How a turn runs. */
export interface TurnOptions {
  now: number;
  policy: Policy;
  /** Runs a reconcile pass even if nothing changed (the periodic tick). */
  reconcile: boolean;
  /**
   * The writer is pacing its passes under load: a change alone does not start a pass; a later
   * turn reconciles it. Default false: a command that produced a logged event starts one.
   */
  paced?: boolean;
  /**
   * The writer's quiet workloads (quiet.ts), kept up to date by this turn: its passes leave them
   * out. Unset (replay, what-if): every pass plans every workload, deciding the same.
   */
  quiet?: QuietWorkloads;
}

/**
 * Runs one turn of `commands`. Replay passes its own `decideInput`, which admits events
 * already recorded once.
 */
export function runTurn(state: ClusterState, commands: Command[], opts: TurnOptions): TurnResult;
export function runTurn<C>(state: ClusterState, inputs: C[], opts: TurnOptions & { decideInput: Decider<C> }): TurnResult;
export function runTurn<C>(state: ClusterState, inputs: C[], opts: TurnOptions & { decideInput?: Decider<C> }): TurnResult {
  const { now, policy, reconcile, paced = false, decideInput = decide as Decider<C>, quiet } = opts;
  const decisions: Decision[] = [];
  const events: ClusterEvent[] = [];
  const effects: Effect[] = [];
  let due = reconcile;
  for (const input of inputs) {
    const decision = decideInput(state, input, now);
    decisions.push(decision);
    effects.push(...decision.effects);
    for (const e of decision.events) {
      evolve(state, e);
      quiet?.touched(e, state);
      events.push(e);
      if (!paced && !isVolatile(e)) due = true;
    }
  }
  let last: Plan | undefined;
  for (let pass = 0; due && pass < MAX_PASSES; pass++) {
    const scope = quiet?.scope(now);
    const p = plan(state, now, policy, scope);
    if (scope) quiet!.passed(scope);
    last = last === undefined ? p : mergePlans(last, p);
    // Reasons of Pending copies to record again are recorded, but give no pass more to do.
    if (isEmptyPlan(p) && p.waiting.length === 0) break;
    const c = planToEvents(state, p);
    for (const e of c.events) {
      evolve(state, e);
      quiet?.touched(e, state);
    }
    events.push(...c.events);
    effects.push(...c.effects);
    if (!enablesMore(p)) break;
  }
  return { decisions, events, effects, plan: last };
}
