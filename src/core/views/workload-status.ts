/**
 * A workload's status as the API and `ctl describe` report it: its phase, READY, UP-TO-DATE and
 * AVAILABLE counts, the rollout's words (canary, wave, soaking, stalled, reverting) and where it
 * is quarantined. Pure: `now` is an input; wire.ts puts it on the wire.
 */
import { isLive } from "../model/instance-machine.js";
import { type ClusterView, type Instance, instanceSeq, type Workload } from "../model/cluster-state.js";
import { availableCanaries, desiredCopies, isAvailable, isReady, runsCurrentTemplate, waitingCanaries, type RolloutStatus, rolloutStatus, stallCause, succeededIndexes } from "../model/cluster-status.js";
import { waveOrder } from "../reconcile/waves.js";
import { quarantinesOf } from "../reconcile/gates.js";
import { DEFAULT_POLICY } from "../reconcile/reconcile.js";
import { type PeriodicSpec, type ResolvedSpec, resolveSpec } from "../model/spec.js";
import type { CronNext } from "../model/schedule.js";
import { nextRunAt } from "../reconcile/plan-periodic.js";
import type { WorkloadStatus } from "../../gen/tessera/v1/types.js";
import { isoTime } from "./iso-time.js";

/** What the wire's WorkloadStatus says, its times in milliseconds (wire.ts makes them Dates). */
export type WorkloadStatusView = Omit<WorkloadStatus, "quarantines" | "nextRunTime"> & { quarantines: { node: string; until: number; reason: string }[]; nextRunTime?: number };

/** `cronNext`: the parser that says when a periodic batch's cron schedule is next due (the writer's). */
export function workloadStatus(view: ClusterView, w: Workload, instances: Instance[], now: number, cronNext?: CronNext): WorkloadStatusView {
  const spec = resolveSpec(w.spec);
  if (spec.periodic) return periodicStatus(view, w, spec.periodic, cronNext);
  const desired = desiredCopies(view, w);
  const wanted = instances.filter((i) => i.desired === "run");
  const current = wanted.filter((i) => runsCurrentTemplate(w, i));
  const running = current.filter((i) => i.state === "running").length;
  // READY counts what serves, of any generation: a rollout's old copies serve until replaced.
  const ready = wanted.filter(isReady).length;
  const upToDate = new Set(current.flatMap((i) => (i.state === "failed" ? [] : [i.index]))).size;
  const nodes = [...new Set(instances.flatMap((i) => (i.node !== null && i.desired === "run" && isLive(i.state) ? [i.node] : [])))].sort();
  if (spec.kind === "batch") {
    const succeeded = [...succeededIndexes(w, instances)].filter((i) => i < desired).length;
    const phase = w.deleting ? "Deleting" : w.finished ? (w.finished.outcome === "complete" ? "Complete" : "Failed") : running > 0 ? "Running" : "Pending";
    // For a batch, `rollout` tells how it ended: what `apply --wait` reports.
    const rollout = w.finished ? `${w.finished.outcome}: ${w.finished.reason}` : "progressing";
    const rolloutComplete = w.finished?.outcome === "complete";
    return { desired, running, phase, deleting: w.deleting, nodes, ready, rollout, succeeded, failed: w.failures, available: ready, rolloutComplete, revertedGeneration: 0, upToDate, quarantines: quarantinesAt(view, w, now), lastRun: "", lastRunOutcome: "" };
  }
  const available = current.filter((i) => isAvailable(i, spec.minHealthyMs, now)).length;
  const serving = wanted.some((i) => i.state === "running");
  const phase = w.deleting ? "Deleting" : desired === 0 ? "Stopped" : ready >= desired ? "Running" : !serving ? "Pending" : ready === 0 ? "NotReady" : "Degraded";
  const rollout = rolloutStatus(w, spec, instances, now, desired);
  const canaries = spec.kind === "service" ? waitingCanaries(w, spec, instances) : 0;
  return {
    desired,
    running,
    phase: rollout.phase === "stalled" && !w.deleting ? "Stalled" : phase,
    deleting: w.deleting,
    nodes,
    ready,
    rollout: describeRollout(w, rollout, canaries, current, spec.minHealthyMs, now, spec.waves.length > 0 ? waveHold(view, w, spec, instances, now) : undefined),
    succeeded: 0,
    failed: 0,
    available,
    upToDate,
    rolloutComplete: rolloutDone(w, spec, instances, desired, available),
    revertedGeneration: w.reverted?.to ?? 0,
    quarantines: quarantinesAt(view, w, now),
    lastRun: "",
    lastRunOutcome: "",
  };
}

/**
 * A periodic batch runs nothing itself: it is Scheduled, and says its latest run, how that
 * stands (the run's own record while it is kept) and when the next is due.
 */
function periodicStatus(view: ClusterView, w: Workload, spec: PeriodicSpec, cronNext: CronNext | undefined): WorkloadStatusView {
  const last = w.periodic?.last ?? null;
  const run = last === null ? undefined : view.workloads.get(last.run);
  const outcome =
    last === null ? "" : last.skipped !== undefined ? `Skipped: ${last.skipped}` : run === undefined ? "Deleted" : run.finished ? `${run.finished.outcome === "complete" ? "Complete" : "Failed"}: ${run.finished.reason}` : run.deleting ? "Deleting" : "Running";
  const next = w.deleting ? undefined : nextRunAt(w, spec, cronNext);
  const status = { desired: 0, running: 0, phase: w.deleting ? "Deleting" : "Scheduled", deleting: w.deleting, nodes: [], ready: 0, rollout: "complete", succeeded: 0, failed: 0, available: 0, upToDate: 0, rolloutComplete: true, revertedGeneration: 0, quarantines: [] };
  return { ...status, lastRun: last?.run ?? "", lastRunOutcome: outcome, ...(next !== undefined ? { nextRunTime: next } : {}) };
}

/**
 * Whether a service's or system workload's rollout of its current generation is done: every
 * copy wanted is current and available and, for a service, its RolloutCompleted is recorded
 * (soaked and promoted: what `apply --wait` must not report early). A system workload records
 * no such event; a workload scaled to nothing has no rollout.
 */
function rolloutDone(w: Workload, spec: ResolvedSpec, instances: Instance[], desired: number, available: number): boolean {
  if (instances.some((i) => i.desired === "run" && !runsCurrentTemplate(w, i))) return false;
  if (desired === 0) return !instances.some((i) => i.desired === "run");
  return available >= desired && (spec.kind === "system" || w.stable?.generation === w.templateGeneration);
}

/** Where its current spec is in crash-loop quarantine, and until when (the policy's quarantine fields are not configurable). */
function quarantinesAt(view: ClusterView, w: Workload, now: number): WorkloadStatusView["quarantines"] {
  return quarantinesOf(view, w.name, now, DEFAULT_POLICY).map((q) => ({ node: q.node, until: q.until!, reason: q.reason }));
}

/** A rollout's waves, and what holds the next one, as the reconciler's wave gate says. */
function waveHold(view: ClusterView, w: Workload, spec: ResolvedSpec, instances: Instance[], now: number): { count: number; held?: string } {
  const wanted = instances.filter((i) => i.desired === "run" && i.state !== "failed");
  const old = wanted.filter((i) => !runsCurrentTemplate(w, i));
  const order = waveOrder(view, w, spec.replicas, spec.waves, old, wanted.filter((i) => runsCurrentTemplate(w, i)), spec.minHealthyMs, now);
  return { count: order.count, held: old.map((o) => order.gate(o)).find((h) => h !== undefined)?.reason };
}

/**
 * The rollout as `ctl describe` and `rollout status` show it: "complete", "progressing",
 * "paused (…)", "wave 2 of 3",
 * "canary: held until promoted (1 of 2 canaries available)", "soaking: web-0.7 available at
 * <time>", "reverting: <why>", "stalled: web-0: readiness checks not passing" (and the canary
 * hold, when a canary is what stalled).
 */
function describeRollout(w: Workload, r: RolloutStatus, canaries: number, current: Instance[], minHealthyMs: number, now: number, waves: { count: number; held?: string } | undefined): string {
  // Reverted by auto_revert (its failed spec quarantined), not gone back to by an undo.
  const reverted = w.reverted !== null ? w.quarantined.find((q) => q.generation === w.reverted!.from) : undefined;
  if (r.phase === "waiting" && r.on === "paused") return "paused (tessera ctl rollout resume to go on)";
  const held = `held until promoted (${availableCanaries(w, current, canaries, minHealthyMs, now)} of ${canaries} canar${canaries === 1 ? "y" : "ies"} available)`;
  if (r.phase === "stalled" && !reverted) {
    const s = r.stuck;
    const why = s === undefined ? stallCause(r) : s.state === "running" ? `${s.name}: ${isReady(s) ? "soaking" : "readiness checks not passing"}` : `${s.name} ${s.state}${s.reason ? `: ${s.reason}` : ""}`;
    return `stalled: ${why}${canaries > 0 ? `; canary ${held}` : ""}`;
  }
  if (r.phase === "progressing" && waves !== undefined && w.wave >= 0) return `wave ${w.wave + 1} of ${waves.count}${waves.held ? `; ${waves.held}` : ""}`;
  if (canaries > 0) return `canary: ${held}`;
  if (r.phase === "complete") return reverted ? `complete (reverted from generation ${reverted.generation}: ${reverted.reason})` : "complete";
  if (reverted) return `reverting from generation ${reverted.generation}: ${reverted.reason}`;
  // The first to be available; of copies Ready at once, the oldest: the same on every control plane, whatever order it holds copies in.
  const soaking = current.flatMap((i) => (isReady(i) && !isAvailable(i, minHealthyMs, now) ? [i] : [])).sort((a, b) => a.readySince! - b.readySince! || instanceSeq(a.id) - instanceSeq(b.id))[0];
  return soaking ? `soaking: ${soaking.id} available at ${isoTime(soaking.readySince! + minHealthyMs)}` : "progressing";
}
