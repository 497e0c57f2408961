/**
 * A periodic batch (spec.schedule), planned from `now`: when its schedule's next time after
 * the last one handled has come, it starts a run (a batch workload of its own, NAME-YYYYMMDD-
 * HHMMSS) or records the time as skipped, by its concurrency policy and starting deadline; it
 * keeps its newest keep_runs finished runs and deletes the rest. It runs no copy itself. PURE.
 *
 * Every decision is a function of the state and `now`: the time handled last is recorded
 * (PeriodicRunStarted, PeriodicRunSkipped), so a control plane restarted, or a new leader
 * reading the same log, starts each time once, and replay starts the same runs.
 */
import type { Instance, Workload } from "../model/cluster-state.js";
import { formatDurationMs } from "../model/duration.js";
import { type CronNext, nextDue, runName, type Schedule } from "../model/schedule.js";
import type { PeriodicSpec } from "../model/spec.js";
import type { Pass } from "./pass.js";
import type { Plan } from "./reconcile.js";

/**
 * Times looked at in one pass when a control plane was down through many: the rest are
 * skipped by the passes that follow (the writer wakes at once while a time is due).
 */
const MAX_TIMES_A_PASS = 10_000;

/** The periodic batches' runs by the workload they are runs of, each list oldest first. */
export function runsByWorkload(workloads: Iterable<Workload>): Map<string, Workload[]> {
  const runs = new Map<string, Workload[]>();
  for (const w of workloads) {
    if (w.runOf === null) continue;
    let list = runs.get(w.runOf.workload);
    if (!list) runs.set(w.runOf.workload, (list = []));
    list.push(w);
  }
  for (const list of runs.values()) list.sort((a, b) => a.runOf!.due - b.runOf!.due || (a.name < b.name ? -1 : 1));
  return runs;
}

/** The runs of a periodic batch that is gone, or no longer periodic, are deleted with it (as a CronJob's Jobs are). */
export function planOrphanRuns(out: Plan, pass: Pass, runs: ReadonlyMap<string, Workload[]>, isPeriodic: (w: Workload) => boolean): void {
  for (const [name, list] of runs) {
    const of = pass.state.workloads.get(name);
    if (of !== undefined && !of.deleting && isPeriodic(of)) continue;
    for (const r of list) if (!r.deleting) out.expire.push({ name: r.name, reason: `${name} was deleted or has no schedule any more` });
  }
}

/** One periodic batch: its own copies stopped, its old runs pruned, and its time, when it has come, run or skipped. */
export function planPeriodic(out: Plan, pass: Pass, workload: Workload, spec: PeriodicSpec, runs: readonly Workload[], running: readonly Instance[], cronNext: CronNext | undefined): void {
  // A batch given a schedule stops what it ran: its runs run from now on.
  for (const i of running) out.stop.push({ instance: i.id, reason: "a periodic workload runs nothing itself: its runs do" });
  pruneRuns(out, workload, spec, runs);
  const handled = workload.periodic?.handled ?? workload.createdAt;
  const due = latestDue(spec.schedule, handled, pass.now, cronNext);
  if (due === undefined) return;
  const name = workload.name;
  if (due.missed !== undefined) out.skipRun.push({ name, due: due.missed.last, reason: `${due.missed.count} run${due.missed.count === 1 ? "" : "s"} missed while the control plane was down; only the latest may start late` });
  if (due.capped) return void out.skipRun.push({ name, due: due.at, reason: "missed while the control plane was down" });
  const late = pass.now - due.at;
  if (spec.startingDeadlineMs !== undefined && late > spec.startingDeadlineMs) {
    return void out.skipRun.push({ name, due: due.at, reason: `missed by ${formatDurationMs(late)}, past its starting deadline of ${formatDurationMs(spec.startingDeadlineMs)}` });
  }
  const run = runName(name, due.at);
  if (pass.state.workloads.has(run)) return void out.skipRun.push({ name, due: due.at, reason: `a workload named ${run} exists already` });
  const active = runs.filter((r) => r.finished === null && !r.deleting);
  if (active.length > 0 && spec.concurrency === "forbid") {
    return void out.skipRun.push({ name, due: due.at, reason: `run ${active.at(-1)!.name} is still active (concurrency forbid)` });
  }
  if (spec.concurrency === "replace") for (const r of active) out.expire.push({ name: r.name, reason: `replaced by run ${run} (concurrency replace)` });
  out.launch.push({ name, run, due: due.at });
}

/** Finished runs beyond the newest keep_runs are deleted (their copies' logs go with them). */
function pruneRuns(out: Plan, workload: Workload, spec: PeriodicSpec, runs: readonly Workload[]): void {
  const finished = runs.filter((r) => r.finished !== null && !r.deleting);
  for (const r of finished.slice(0, Math.max(0, finished.length - spec.keepRuns))) {
    out.expire.push({ name: r.name, reason: `older than the ${spec.keepRuns} finished run${spec.keepRuns === 1 ? "" : "s"} ${workload.name} keeps (keep_runs)` });
  }
}

/**
 * The latest time of `schedule` after `handled` that has come by `now`, and the earlier ones
 * that have too (missed: the control plane was not running at their time). `capped`: so many
 * were missed that this pass stopped looking at MAX_TIMES_A_PASS.
 */
function latestDue(schedule: Schedule, handled: number, now: number, cronNext: CronNext | undefined): { at: number; missed?: { count: number; last: number }; capped?: true } | undefined {
  let at = nextDue(schedule, handled, cronNext);
  if (at === undefined || at > now) return undefined;
  let count = 0;
  let previous = at;
  for (let next = nextDue(schedule, at, cronNext); next !== undefined && next <= now; next = nextDue(schedule, at, cronNext)) {
    if (++count >= MAX_TIMES_A_PASS) return { at: next, capped: true };
    previous = at;
    at = next;
  }
  return count === 0 ? { at } : { at, missed: { count, last: previous } };
}

/** When a periodic batch is next due after the time it handled last, or undefined when never. */
export function nextRunAt(workload: Workload, spec: PeriodicSpec, cronNext: CronNext | undefined): number | undefined {
  return nextDue(spec.schedule, workload.periodic?.handled ?? workload.createdAt, cronNext);
}
