/**
 * How events change a workload and its rollout: applied, restarted, deleted, finished; a
 * rollout promoted, paused, held, stalled, completed, reverted; a quarantine lifted. PURE,
 * in place (see evolve.ts).
 */
import { type ClusterState, instancesOfWorkload, STALLED, type TemplateEra, type Workload } from "../model/cluster-state.js";
import { sameTemplate } from "../model/spec.js";
import { runName } from "../model/schedule.js";
import { sharingEmpties } from "../model/shared-empties.js";
import { nextEras } from "../model/template-eras.js";
import { type Evolvers, must } from "./state-edits.js";

export const workloadEvolvers = {
  WorkloadApplied(state, e) {
    const prior = state.workloads.get(e.workload.name);
    const applied = sharingEmpties(e.workload);
    const templateChanged = prior === undefined || prior.templateGeneration !== e.workload.templateGeneration;
    // Back to the template an earlier generation's copies run (decide/workloads.ts keptFrom): they
    // stay current (their era's template is current again), the others are outdated.
    const backTo = prior !== undefined && templateChanged && e.workload.templateGeneration < e.workload.generation;
    // A crash-loop quarantine is the failed spec's: a changed one is placed at once.
    if (templateChanged) state.crashes.delete(e.workload.name);
    // A change that replaces no copy of a completed rollout completes at once: it is what
    // auto_revert goes back to from now on.
    const completedAtOnce = !templateChanged && prior.stable !== null && prior.stable.generation === prior.templateGeneration;
    state.workloads.set(e.workload.name, {
      ...applied,
      deleting: false,
      createdAt: prior?.createdAt ?? e.at,
      restartSeq: prior?.restartSeq ?? 0,
      templateChangedAt: templateChanged ? e.at : prior.templateChangedAt,
      progressSince: templateChanged ? e.at : prior.progressSince,
      previousSpec: e.previousSpec !== undefined ? sharingEmpties(e.previousSpec) : (prior?.previousSpec ?? null),
      eras: templateChanged ? erasAfter(state, prior, applied) : prior.eras,
      // A batch whose runs change starts over.
      failures: templateChanged ? 0 : prior.failures,
      finished: templateChanged ? null : prior.finished,
      promoted: templateChanged ? false : prior.promoted,
      reverted: backTo ? { from: prior.templateGeneration, to: prior.generation } : templateChanged ? null : prior.reverted,
      paused: prior?.paused ?? false,
      wave: templateChanged ? -1 : prior.wave,
      rolloutHold: templateChanged ? "" : prior.rolloutHold,
      stable: completedAtOnce ? { spec: applied.spec, generation: prior.stable!.generation } : (prior?.stable ?? null),
      periodic: e.workload.spec.schedule ? (prior?.periodic ?? { handled: e.at, last: null }) : null,
      runOf: e.run ?? prior?.runOf ?? null,
      quarantined: sharingEmpties(e.forced ? (prior?.quarantined ?? []).filter((q) => !sameTemplate(q.spec, e.workload.spec)) : (prior?.quarantined ?? [])),
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
    // The restored spec's copies, still running, stay current; the failed spec's are outdated.
    w.eras = nextEras(w.eras, instancesOfWorkload(state, e.name), w.stable.generation, { from: e.generation, template: w.stable.generation, spec: w.stable.spec });
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
  PeriodicRunStarted(state, e) {
    const w = must(state.workloads, e.name, "workload");
    // A run started by hand leaves the schedule where it was.
    w.periodic = { handled: e.manual ? (w.periodic?.handled ?? e.at) : e.due, last: { run: e.run, due: e.due } };
  },
  PeriodicRunSkipped(state, e) {
    const w = must(state.workloads, e.name, "workload");
    w.periodic = { handled: e.due, last: { run: runName(e.name, e.due), due: e.due, skipped: e.reason } };
  },
} satisfies Partial<Evolvers>;

/** A workload's eras once `applied` changed its template: from its generation on, copies run it. */
function erasAfter(state: ClusterState, prior: Workload | undefined, applied: Pick<Workload, "generation" | "templateGeneration" | "spec">): TemplateEra[] {
  const era = { from: applied.generation, template: applied.templateGeneration, spec: applied.spec };
  return prior === undefined ? [era] : nextEras(prior.eras, instancesOfWorkload(state, prior.name), prior.stable?.generation, era);
}

/** Specs a workload remembers as failed rollouts, at most (the oldest goes). */
const MAX_QUARANTINED = 10;
