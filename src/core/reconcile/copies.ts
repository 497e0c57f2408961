/**
 * What the reconciler asks of a workload's copies, each question answered once: is a copy
 * outdated, which a rollout replaces, which failure holds the restart backoff, what attempt its
 * replacement is, and the copies grouped by replica slot or by node. PURE; reads only.
 */
import { type Instance, instanceSeq, type TemplateEra, type Workload } from "../model/cluster-state.js";
import { runsCurrentTemplate } from "../model/cluster-status.js";
import { type ResolvedSpec, resolveSpec } from "../model/spec.js";
import { eraOf } from "../model/template-eras.js";

/** Started before the workload's last restart was asked for (`tessera restart`): the restart replaces it. */
export function predatesRestart(workload: Workload, i: Instance): boolean {
  // restartSeq 0 (never restarted) is the common case: no id to parse. Ids count up from 1, so
  // the guard only spares the parse, it never changes the answer.
  return workload.restartSeq > 0 && instanceSeq(i.id) < workload.restartSeq;
}

/**
 * Outdated: of an older template (a changed spec, a revert) or started before a restart. A
 * rollout replaces it; a Lost one is not taken back. Runs an older template only, without the
 * restart: !runsCurrentTemplate (model/cluster-status.ts).
 */
export function isOutdated(workload: Workload, i: Instance): boolean {
  return !runsCurrentTemplate(workload, i) || predatesRestart(workload, i);
}

/**
 * How long a copy must have been Ready to count as available: the current spec's
 * min_healthy_time, and for a copy of an older template its own spec's too when that is longer.
 * A copy of a check-less spec soaks its 10 s default even once a spec with checks (0 s) replaces
 * it: one that crashes at start, barely Ready, never counts as serving in the next rollout's budget.
 */
export function soakOf(workload: Workload, spec: ResolvedSpec): (i: Instance) => number {
  const own = new Map<TemplateEra, number>();
  return (i) => {
    const era = runsCurrentTemplate(workload, i) ? undefined : eraOf(workload.eras, i.generation);
    if (era === undefined) return spec.minHealthyMs;
    let ms = own.get(era);
    if (ms === undefined) own.set(era, (ms = resolveSpec(era.spec).minHealthyMs));
    return Math.max(spec.minHealthyMs, ms);
  };
}

/** On a node being drained: its copy runs again elsewhere. `draining` is usually empty, so the check is free. */
export function onDrainingNode(draining: ReadonlySet<string>, i: Instance): boolean {
  return draining.size > 0 && i.node !== null && draining.has(i.node);
}

/** Outdated, or on a draining node: the copies a workload's planning replaces (a drain moves a copy, a rollout renews it). */
export function dueForReplacement(workload: Workload, draining: ReadonlySet<string>): (i: Instance) => boolean {
  return (i) => isOutdated(workload, i) || onDrainingNode(draining, i);
}

/** A live outdated copy: what a rollout replaces, wave by wave (a drain's copies are not a rollout's). */
export function awaitsRollout(workload: Workload, i: Instance): boolean {
  return i.state !== "failed" && isOutdated(workload, i);
}

/**
 * Why an old copy is replaced: its template changed ("update"), a restart asked for it
 * ("rollout"), or else its node is draining ("drain").
 */
export function replacementCause(workload: Workload, old: Instance): "update" | "rollout" | "drain" {
  return !runsCurrentTemplate(workload, old) ? "update" : predatesRestart(workload, old) ? "rollout" : "drain";
}

/** The newest failed copy, by id. */
export function newestFailure(copies: Instance[]): Instance | undefined {
  return copies.reduce<Instance | undefined>((a, b) => (b.state !== "failed" ? a : a === undefined || instanceSeq(b.id) > instanceSeq(a.id) ? b : a), undefined);
}

/** The newest failure of the current template: what holds the restart backoff of a slot (a changed template starts at once). */
export function newestCurrentFailure(workload: Workload, failed: Instance[]): Instance | undefined {
  return newestFailure(failed.filter((f) => runsCurrentTemplate(workload, f)));
}

/** The attempt a failed copy's replacement is: the next, unless it ran long enough before failing to start the backoff over. */
export function nextAttempt(failed: Instance, spec: ResolvedSpec): number {
  const ranLong = failed.runningSince !== null && failed.failedAt! - failed.runningSince >= spec.restartResetMs;
  return ranLong ? 0 : failed.attempt + 1;
}

/**
 * Copies by replica slot (a batch's index), for slots 0..count-1; a copy of a slot beyond goes
 * to `beyond` (scaled down, completions lowered).
 */
export function bySlot(copies: Instance[], count: number, beyond: (i: Instance) => void): Map<number, Instance[]> {
  const slots = new Map<number, Instance[]>();
  for (const inst of copies) {
    if (inst.index >= count) {
      beyond(inst);
      continue;
    }
    let slot = slots.get(inst.index);
    if (!slot) slots.set(inst.index, (slot = []));
    slot.push(inst);
  }
  return slots;
}

/** Copies by the node they are on; a copy on none goes to `unplaced`. */
export function byNode(copies: Instance[], unplaced: (i: Instance) => void): Map<string, Instance[]> {
  const nodes = new Map<string, Instance[]>();
  for (const inst of copies) {
    if (inst.node === null) {
      unplaced(inst);
      continue;
    }
    let onNode = nodes.get(inst.node);
    if (!onNode) nodes.set(inst.node, (onNode = []));
    onNode.push(inst);
  }
  return nodes;
}

/** A slot's copies split by outcome: failed ones, and live ones (not failed). */
export function splitFailed(copies: Instance[]): { failed: Instance[]; live: Instance[] } {
  const failed: Instance[] = [];
  const live: Instance[] = [];
  for (const i of copies) (i.state === "failed" ? failed : live).push(i);
  return { failed, live };
}
