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
 *
 * Copies are matched, not their ids (copy-identity.ts): an agent's report in the log speaks
 * of the re-run's copy of the same replica, generation and order, placed on that agent's node,
 * whatever id the re-run gave it; a what-if then differs from the log only where the change
 * reaches, and its decisions are told with the log's names for the same copies.
 */
import type { Decision } from "../decide/decision.js";
import { fits, originOf, touches } from "./event-facts.js";
import type { ClusterEvent } from "./cluster-events.js";
import { type ClusterState, emptyState } from "../model/cluster-state.js";
import { copyIdOf, CopyNames, type NamedCopy, renamed } from "./copy-identity.js";
import type { Plan, Policy } from "../reconcile/reconcile.js";
import { runTurn } from "../reconcile/turn.js";

/** One event of a log with its sequence number. */
export interface LoggedInput {
  seq: number;
  event: ClusterEvent;
  /** For an input about a copy (recordedTurns): which copy of the log it names. */
  copy?: NamedCopy;
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

/** A re-run: its turns, the state it ends in, and its copies by name. */
export interface Rerun {
  turns: RerunTurn[];
  state: ClusterState;
  copies: CopyNames;
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
  const copies = new CopyNames();
  let current: ReplayTurn | undefined;
  let decided = false;
  for (const logged of log) {
    const { event } = logged;
    const input = originOf(event) === "input";
    if (current === undefined || event.at !== current.at || (input && decided)) {
      turns.push((current = { at: event.at, inputs: [] }));
      decided = false;
    }
    if (input) current.inputs.push(namingCopy(logged, copies));
    else decided = true;
    copies.note(event);
  }
  return turns;
}

/** The input with the copy it names, as the log had it (none when the log does not show it created). */
function namingCopy(logged: LoggedInput, copies: CopyNames): LoggedInput {
  const id = copyIdOf(logged.event);
  const key = id === undefined ? undefined : copies.keyOf(id);
  return key === undefined ? logged : { ...logged, copy: { key, node: copies.nodeOf(id!) } };
}

/** The turns with input `seq` moved by `shiftMs`: it arrives alone, after the turns then. */
export function shiftInput(turns: ReplayTurn[], seq: number, shiftMs: number): ReplayTurn[] {
  const moved = turns.flatMap((t) => t.inputs).find((i) => i.seq === seq);
  if (moved === undefined) return turns;
  const at = moved.event.at + shiftMs;
  const rest = turns.map((t) => ({ at: t.at, inputs: t.inputs.filter((i) => i.seq !== seq) }));
  const k = rest.findIndex((t) => t.at > at);
  const alone: ReplayTurn = { at, inputs: [{ ...moved, event: { ...moved.event, at } }] };
  return k < 0 ? [...rest, alone] : [...rest.slice(0, k), alone, ...rest.slice(k)];
}

/**
 * The input as it reaches the re-run: about the re-run's own copy of the one it named (none
 * when the re-run has no such copy, or has it on another node than the agent that spoke), and
 * a restart replacing the copies the re-run has when it comes.
 */
function asRerun(state: ClusterState, copies: CopyNames, input: LoggedInput): ClusterEvent | undefined {
  const e = input.event;
  if (e.type === "WorkloadRestartRequested") return { ...e, restartSeq: state.nextInstanceSeq };
  if (copyIdOf(e) === undefined) return e;
  const copy = input.copy;
  const id = copy === undefined ? undefined : copies.idOf(copy.key);
  if (copy === undefined || id === undefined) return undefined;
  if (copy.node !== undefined && state.instances.get(id)?.node !== copy.node) return undefined;
  return renamed(e, id);
}

/**
 * Re-runs the writer's turns over the inputs of a log, in time order, each through runTurn
 * with a reconcile pass (the writer ticks every second, and reconciles after every change).
 * An input is recorded again if it still fits; otherwise it records nothing (skipped).
 */
export function rerunInputs(turns: ReplayTurn[], policy: Policy): Rerun {
  const ordered = [...turns].sort((a, b) => a.at - b.at);
  const replayPolicy: Policy = { ...policy, recordedHealth: true };
  const state = emptyState();
  const copies = new CopyNames();
  const admit = (s: ClusterState, input: LoggedInput): Decision => {
    const event = asRerun(s, copies, input);
    return { events: event !== undefined && fits(s, event) ? [event] : [], effects: [] };
  };
  const out: RerunTurn[] = [];
  for (const turn of ordered) {
    const r = runTurn(state, turn.inputs, { now: turn.at, policy: replayPolicy, reconcile: true, decideInput: admit });
    const inputs = turn.inputs.flatMap((input, i) => r.decisions[i]!.events.map((event) => ({ ...input, event })));
    const skipped = turn.inputs.filter((_, i) => r.decisions[i]!.events.length === 0);
    for (const e of r.events) copies.note(e);
    // A pass always runs (reconcile is forced), so there is a plan.
    out.push({ at: turn.at, inputs, skipped, plan: r.plan!, decisions: r.events.slice(inputs.length) });
  }
  return { turns: out, state, copies };
}

/** A decision as a comparable line: what happened to which copy, without its time; copies named by `name`. */
export function describeDecision(e: ClusterEvent, name: (id: string) => string = (id) => id): string {
  switch (e.type) {
    case "InstanceTransitioned":
      return `${name(e.id)} ${e.event.type}${e.event.type === "place" ? ` ${e.event.node}` : ""}`;
    case "InstanceCreated":
      return `${name(e.id)} created`;
    case "InstanceRemoved":
      return `${name(e.id)} forgotten`;
    case "WorkloadRemoved":
      return `${e.name} removed`;
    default: {
      const t = touches(e);
      return `${t.workload ?? t.node ?? ""} ${e.type}`.trim();
    }
  }
}

/**
 * Names a what-if's copies as the log names the same copies (`recorded` is the log's re-run);
 * a copy the log does not have keeps its what-if id, marked "*".
 */
export function namesAsRecorded(recorded: Rerun, whatIf: Rerun): (id: string) => string {
  return (id) => {
    const key = whatIf.copies.keyOf(id);
    return (key === undefined ? undefined : recorded.copies.idOf(key)) ?? `${id}*`;
  };
}

/** A decision of a re-run, told: when, and what (describeDecision). */
export interface DecisionLine {
  at: number;
  what: string;
}

/** What the what-if decided that the log did not (added), and the reverse (gone), in time order, copies named as in the log. */
export function compareReruns(recorded: Rerun, whatIf: Rerun): { added: DecisionLine[]; gone: DecisionLine[] } {
  const lines = (run: Rerun, name?: (id: string) => string) => run.turns.flatMap((t) => t.decisions.map((d) => ({ at: t.at, what: describeDecision(d, name) })));
  const before = lines(recorded);
  const after = lines(whatIf, namesAsRecorded(recorded, whatIf));
  return { added: without(after, before), gone: without(before, after) };
}

/** The lines of `a` that `b` does not have, counting repeats. */
function without(a: DecisionLine[], b: DecisionLine[]): DecisionLine[] {
  const left = new Map<string, number>();
  for (const l of b) left.set(`${l.at} ${l.what}`, (left.get(`${l.at} ${l.what}`) ?? 0) + 1);
  return a.filter((l) => {
    const n = left.get(`${l.at} ${l.what}`) ?? 0;
    if (n > 0) left.set(`${l.at} ${l.what}`, n - 1);
    return n === 0;
  });
}
