/**
 * One replica slot of a service: keep its current copy, schedule it, replace an old copy, or
 * hold, under the surge and disruption budgets the workload's slots share. PURE; plan-service.ts
 * plans each slot with one SlotPlan for the workload.
 */
import { canaryGate, disruptionGate, type Hold, pausedGate, restartGate, soakGate, surgeGate } from "./gates.js";
import { type Instance, instanceName } from "../model/cluster-state.js";
import { availableAt, isAvailable, isReady, runsCurrentTemplate } from "../model/cluster-status.js";
import { isOutdated, newestCurrentFailure, nextAttempt, replacementCause, splitFailed } from "./copies.js";
import { freshCopy, placed, waitPending } from "./pass.js";
import type { NewInstance, PlaceCause, Plan, Skip } from "./reconcile.js";
import { serves, type SlotContext, stopFirst } from "./replacement.js";

/** The workload's budgets, shared by its slots: copies counted against replicas + max_surge, and available ones. */
export interface Budget {
  nonTerminal: number;
  available: number;
}

/** What planning a slot reads and writes: the same for every slot of a workload in one pass. */
export interface SlotPlan extends SlotContext {
  out: Plan;
  budget: Budget;
  /** The copies this planning replaces (outdated, or on a draining node). */
  isOutdated: (i: Instance) => boolean;
  /** Slots that are canaries of a rollout waiting for promotion; 0: none waits. */
  canaries: number;
  /** Whether an old copy may be replaced now (pause, waves); a hold if not. */
  replaceGate: (old: Instance) => Hold | undefined;
  // `only` (SlotContext): where its new copies may go (a rollout's started waves); undefined: wherever they fit.
}

/** Decides one replica slot: keep, schedule, replace, or hold. `lost`: the slot's copy was lost. */
export function planSlot(c: SlotPlan, index: number, slot: Instance[], lost: boolean): void {
  // The steady state, most slots on most passes: one current copy, placed and not failed.
  // The general path below decides the same (keep it, nothing else to do) after allocating.
  if (slot.length === 1 && slot[0]!.state !== "failed" && slot[0]!.state !== "pending" && !c.isOutdated(slot[0]!)) return;
  // No copy at all, as for every new replica: the general path below comes to the same.
  if (slot.length === 0) {
    create(c, index, freshCopy(c.workload, c.spec, index, 0, lost ? "lost" : "new"));
    return;
  }
  const { failed, live } = splitFailed(slot);
  const current = live.filter((i) => !c.isOutdated(i));
  const outdated: Instance[] = [];
  for (const i of live) {
    if (!c.isOutdated(i)) continue;
    if (i.state !== "pending") outdated.push(i);
    else {
      // Never placed, it serves nothing: it goes at once (never two Pending rows for a slot).
      stop(c, i, `update: generation ${c.workload.generation} replaces it`);
      c.budget.nonTerminal--;
    }
  }
  // The slot's restart backoff: its newest failure of the current template holds whichever copy
  // comes next, beside an old copy or not (a changed template starts at once).
  const lastFailure = newestCurrentFailure(c.workload, failed);
  if (current.length > 0) keepCurrent(c, index, current, outdated, failed);
  else if (outdated.length > 0) replaceOld(c, index, outdated, failed, lastFailure);
  else restartFailed(c, index, failed, lastFailure, lost);
}

function stop(c: SlotPlan, i: Instance, reason: string): void {
  c.out.stop.push({ instance: i.id, reason });
}

function hold(c: SlotPlan, h: Hold | Skip, instance?: string): void {
  c.out.skip.push({ workload: c.workload.name, instance, ...h });
}

/**
 * Places a new instance if the surge budget allows (a canary is beside the budget); true when
 * one was created. One that fits nowhere is Pending: `replacing`, its slot's old copy, may be
 * stopped first to make room for it.
 */
function create(c: SlotPlan, index: number, n: NewInstance, canary = index < c.canaries, replacing?: Instance): boolean {
  const refused = canary ? undefined : surgeGate(c.budget.nonTerminal, c.spec);
  if (refused) {
    hold(c, refused);
    return false;
  }
  const choice = c.placer.choose(c.workload.name, c.spec, instanceName(c.workload.name, index), c.only);
  c.budget.nonTerminal++;
  if ("node" in choice) c.out.place.push({ ...n, ...placed(choice) });
  else c.out.pend.push({ ...n, reason: replacing === undefined ? choice.reason : stopFirst(c.out, c, replacing, n.cause, choice.reason) });
  return true;
}

/** Places a new instance, the surge budget allowing it, only where one fits now: undefined when placed, else why it fits nowhere. */
function placeOnly(c: SlotPlan, index: number, n: NewInstance): string | undefined {
  const choice = c.placer.choose(c.workload.name, c.spec, instanceName(c.workload.name, index), c.only);
  if (!("node" in choice)) return choice.reason;
  c.budget.nonTerminal++;
  c.out.place.push({ ...n, ...placed(choice) });
  return undefined;
}

/** The slot has a current copy: it stays (scheduled if Pending), and its old copies go once it is available. */
function keepCurrent(c: SlotPlan, index: number, current: Instance[], outdated: Instance[], failed: Instance[]): void {
  const { out, workload, spec, now } = c;
  // Of several current copies (a held canary's slot keeps old copies of more than one spec),
  // the one serving best stays.
  if (current.length > 1) current.sort((a, b) => serves(b, c) - serves(a, c));
  const keep = current[0]!;
  for (const dup of current.slice(1)) stop(c, dup, `duplicate of ${keep.id}`);
  for (const f of failed) stop(c, f, f.reason);
  let unplaceable: string | undefined;
  if (keep.state === "pending") {
    const choice = c.placer.choose(workload.name, spec, keep.name, c.only);
    if ("node" in choice) out.schedule.push({ instance: keep.id, ...placed(choice) });
    else unplaceable = choice.reason;
  }
  if (outdated.length === 0) {
    if (unplaceable !== undefined) waitPending(out, keep, unplaceable);
    return;
  }
  // The old copies go once the new one is available (Ready and soaked): that is what keeps
  // the budget whole. A canary's old copy stays until the rollout is promoted.
  // A paused rollout does not finish a replacement either (a drain's does).
  const rollout = outdated.some((o) => isOutdated(workload, o));
  const canaryHold = canaryGate(c.canaries, index) ?? (rollout ? pausedGate(workload.paused) : undefined);
  const o = outdated[0]!;
  // Its new copy waits for room the old one holds: stop-then-start, as when it was created;
  // its reason says so.
  if (unplaceable !== undefined) {
    const stopsFirst = canaryHold === undefined && c.replaceGate(o) === undefined;
    waitPending(out, keep, stopsFirst ? stopFirst(out, c, o, runsCurrentTemplate(workload, o) ? "rollout" : "update", unplaceable) : unplaceable);
  }
  if (canaryHold) {
    hold(c, canaryHold, o.id);
    return;
  }
  if (!isReady(keep)) return;
  const soaking = soakGate(keep, spec.minHealthyMs, now);
  if (soaking) hold(c, soaking, o.id);
  else for (const old of outdated) stop(c, old, `replaced by ${keep.id}`);
}

/** The slot has only old copies: a new one is created beside the one that stays, or that one goes first within the budget. */
function replaceOld(c: SlotPlan, index: number, outdated: Instance[], failed: Instance[], lastFailure: Instance | undefined): void {
  const { workload, spec, now } = c;
  // Of several old copies (specs applied in a row), the one serving best stays: stopping the
  // others leaves the slot served as it was, which the budget counted.
  const [old, ...extra] = outdated.length === 1 ? outdated : [...outdated].sort((a, b) => serves(b, c) - serves(a, c));
  for (const o of extra) stop(c, o, "duplicate");
  const backoff = lastFailure === undefined ? undefined : restartGate(lastFailure, spec, now);
  if (backoff) {
    hold(c, backoff, lastFailure!.id);
    return;
  }
  const attempt = lastFailure === undefined ? 0 : nextAttempt(lastFailure, spec);
  // The newest failure stays until its replacement is created: it holds the backoff.
  for (const f of failed) if (f !== lastFailure) stop(c, f, f.reason);
  const replaced = (created: boolean) => {
    if (created && lastFailure !== undefined) stop(c, lastFailure, lastFailure.reason);
  };
  const cause: PlaceCause = replacementCause(workload, old!);
  if (c.canaries > 0 && cause === "update") {
    // Canaries start beside the old copies; the rest wait for the promotion.
    if (index < c.canaries) replaced(create(c, index, freshCopy(workload, spec, index, attempt, cause), true));
    else hold(c, canaryGate(c.canaries, index)!, old!.id);
    return;
  }
  const held = c.replaceGate(old!);
  if (held) {
    hold(c, held, old!.id);
    return;
  }
  if (surgeGate(c.budget.nonTerminal, spec) === undefined) {
    // Under the workload's own rules (maxPerNode, a hard spread) a surge copy may fit nowhere
    // until an old copy goes: a drain waits for room (its old copy stays where it serves); a
    // rollout stops the old copy first, as a full surge budget would.
    if (!spec.placement.ownCounts) {
      replaced(create(c, index, freshCopy(workload, spec, index, attempt, cause), false, old));
      return;
    }
    const unplaced = placeOnly(c, index, freshCopy(workload, spec, index, attempt, cause));
    if (unplaced === undefined) {
      replaced(true);
      return;
    }
    if (cause === "drain") {
      hold(c, { gate: "unplaceable", reason: `drain waits for room: ${unplaced}` }, old!.id);
      return;
    }
  }
  makeRoom(c, old!, cause);
}

/**
 * An old copy whose replacement waits for room: a copy that is not Ready serves nothing and
 * goes at once. A Ready one serves, soaked or not (a spec applied while the last one's copies
 * soak, or one soaking the 10 s default without checks), so it goes only within the budget.
 */
function makeRoom(c: SlotPlan, old: Instance, cause: PlaceCause): void {
  const { spec, now, budget } = c;
  if (!isReady(old)) {
    stop(c, old, `${cause}: replaced`);
    return;
  }
  const soaked = isAvailable(old, c.soakOf(old), now);
  const refused = disruptionGate(budget.available, spec, soaked);
  if (refused) {
    // Old copies soaking (this one too) count once available: the budget may allow it then.
    hold(c, soaked ? refused : { ...refused, until: availableAt(old, c.soakOf(old)) }, old.id);
    return;
  }
  if (soaked) budget.available--;
  stop(c, old, `${cause}: making room for generation ${c.workload.generation}`);
}

/** The slot has no live copy: a new one, after the restart backoff of its newest failure. */
function restartFailed(c: SlotPlan, index: number, failed: Instance[], lastFailure: Instance | undefined, lost: boolean): void {
  if (lastFailure === undefined) {
    // Only an older template's copies failed here: the changed one starts at once.
    if (create(c, index, freshCopy(c.workload, c.spec, index, 0, lost ? "lost" : failed.length > 0 ? "update" : "new"))) for (const f of failed) stop(c, f, f.reason);
    return;
  }
  const held = restartGate(lastFailure, c.spec, c.now);
  if (held) {
    hold(c, held, lastFailure.id);
    return;
  }
  if (create(c, index, freshCopy(c.workload, c.spec, index, nextAttempt(lastFailure, c.spec), "restart"))) for (const f of failed) stop(c, f, f.reason);
}
