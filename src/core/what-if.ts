/**
 * Offline re-run of a recorded event log: its inputs through the writer's own turn. PURE.
 *
 * The log holds two kinds of events: inputs, the requests and observations that came from
 * outside the reconciler (applies, deletes, cordons, agents' connections and reports, node
 * health changes), and the decisions the reconciler took from them (instances created,
 * placed, stopped, lost, forgotten); event-facts.ts says which is which. `rerunInputs` keeps
 * the inputs, optionally with one moved in time, and runs them through the writer's own turn
 * (runTurn), so the core decides again what the control plane would have done.
 *
 * Heartbeats are not logged: node health follows the recorded health changes, which the
 * planner takes as given (Policy.recordedHealth) instead of judging silence it cannot see.
 */
import type { Decision } from "./decide.js";
import { fits, originOf } from "./event-facts.js";
import type { ClusterEvent } from "./cluster-events.js";
import { type ClusterState, emptyState } from "./cluster-state.js";
import type { Plan, Policy } from "./reconcile.js";
import { runTurn } from "./turn.js";

/** One event of a log with its sequence number. */
export interface LoggedInput {
  seq: number;
  event: ClusterEvent;
}

/** A turn of the writer as the log shows it: when it ran and the inputs it took. */
export interface ReplayTurn {
  at: number;
  inputs: LoggedInput[];
}

/** One turn of a re-run: the inputs it took and skipped, and what it decided from them. */
export interface RerunTurn {
  at: number;
  /** Inputs applied in this turn (those that still made sense). */
  inputs: LoggedInput[];
  /** Inputs that named something the re-run state does not have in that state. */
  skipped: LoggedInput[];
  plan: Plan;
  /** What the reconciler decided, after the inputs. */
  decisions: ClusterEvent[];
}

/**
 * The writer's turns as the log shows them, with their inputs. A turn records its commands'
 * events first, then its reconcile passes' decisions, all at one time: a new turn starts when
 * the time changes or an input follows a decision. Turns that recorded decisions only (a tick
 * that found something to do) are kept with no inputs, so replay ticks then too. Turns the
 * log cannot tell apart (inputs of one and the next at the same time) decide alike merged,
 * as the first one's pass found nothing to do.
 */
export function recordedTurns(log: LoggedInput[]): ReplayTurn[] {
  const turns: ReplayTurn[] = [];
  let current: ReplayTurn | undefined;
  let decided = false;
  for (let k = 0; k < log.length; k++) {
    const { event } = log[k]!;
    const input = originOf(event) === "input";
    if (current === undefined || event.at !== current.at || (input && decided)) {
      turns.push((current = { at: event.at, inputs: [] }));
      decided = false;
    }
    if (input) current.inputs.push(log[k]!);
    else decided = true;
  }
  return turns;
}

/** The turns with input `seq` moved by `shiftMs`: it arrives alone, after the turns then. */
export function shiftInput(turns: ReplayTurn[], seq: number, shiftMs: number): ReplayTurn[] {
  const moved = turns.flatMap((t) => t.inputs).find((i) => i.seq === seq);
  if (moved === undefined) return turns;
  const at = moved.event.at + shiftMs;
  const rest = turns.map((t) => ({ at: t.at, inputs: t.inputs.filter((i) => i.seq !== seq) }));
  const k = rest.findIndex((t) => t.at > at);
  const alone: ReplayTurn = { at, inputs: [{ seq, event: { ...moved.event, at } }] };
  return k < 0 ? [...rest, alone] : [...rest.slice(0, k), alone, ...rest.slice(k)];
}

/** An input is recorded again as it was if it still fits; otherwise it records nothing. */
function admit(state: ClusterState, input: LoggedInput): Decision {
  return { events: fits(state, input.event) ? [input.event] : [], effects: [] };
}

/**
 * Re-runs the writer's turns over the inputs of a log, in time order, each through runTurn
 * with a reconcile pass (the writer ticks every second, and reconciles after every change).
 */
export function rerunInputs(turns: ReplayTurn[], policy: Policy): { turns: RerunTurn[]; state: ClusterState } {
  const ordered = [...turns].sort((a, b) => a.at - b.at);
  const replayPolicy: Policy = { ...policy, recordedHealth: true };
  const state = emptyState();
  const out: RerunTurn[] = [];
  for (const turn of ordered) {
    const r = runTurn(state, turn.inputs, { now: turn.at, policy: replayPolicy, reconcile: true, decideInput: admit });
    const inputs = turn.inputs.filter((_, i) => r.decisions[i]!.events.length > 0);
    const skipped = turn.inputs.filter((_, i) => r.decisions[i]!.events.length === 0);
    // A pass always runs (reconcile is forced), so there is a plan.
    out.push({ at: turn.at, inputs, skipped, plan: r.plan!, decisions: r.events.slice(inputs.length) });
  }
  return { turns: out, state };
}
