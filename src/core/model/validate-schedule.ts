/**
 * Validation of a periodic batch's fields (spec.schedule, time_zone, concurrency,
 * starting_deadline, keep_runs): each refusal names its field and what it takes. PURE.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { formatDurationMs } from "./duration.js";
import { invalidArgument, type Rejection } from "./rejections.js";
import { knownTimeZone, RUN_SUFFIX_LENGTH, scheduleProblem } from "./schedule.js";
import { durationMs, kindOf } from "./spec.js";

/** Finished runs a periodic batch may keep, at most: each is a workload of its own. */
export const MAX_KEEP_RUNS = 100;

/** A starting deadline under a second could not be met by a writer that wakes on time. */
const MIN_STARTING_DEADLINE_MS = 1_000;

/** The longest name a periodic batch may have: its runs add "-YYYYMMDD-HHMMSS" (and "-manual") within 63 characters. */
const MAX_PERIODIC_NAME = 63 - RUN_SUFFIX_LENGTH;

/** Every problem with the schedule fields of `spec` (named `name`); empty when they are sound or absent. */
export function validateSchedule(name: string, spec: WorkloadSpec): Rejection[] {
  const schedule = spec.schedule ?? "";
  const others = [
    ["time_zone", (spec.timeZone ?? "") !== ""],
    ["concurrency", (spec.concurrency ?? 0) !== 0],
    ["starting_deadline", spec.startingDeadline !== undefined],
    ["keep_runs", spec.keepRuns !== undefined],
  ] as const;
  if (schedule.trim() === "") {
    return others.filter(([, set]) => set).map(([field]) => invalidArgument(`workload.spec.${field}`, "none without a schedule (only a periodic batch, with spec.schedule, has it)"));
  }
  const kind = kindOf(spec);
  if (kind !== "batch") return [invalidArgument("workload.spec.schedule", `none for a ${kind} workload: only kind batch runs on a schedule`)];
  const problems: Rejection[] = [];
  const problem = scheduleProblem(schedule);
  if (problem) problems.push(invalidArgument("workload.spec.schedule", problem));
  if (!knownTimeZone(spec.timeZone ?? "")) problems.push(invalidArgument("workload.spec.time_zone", `an IANA time zone (Europe/Paris, America/New_York; empty: UTC), got "${spec.timeZone}"`));
  else if ((spec.timeZone ?? "") !== "" && schedule.trim().startsWith("@every")) problems.push(invalidArgument("workload.spec.time_zone", "none with @every, which counts from the epoch in no zone"));
  if (![0, 1, 2, 3].includes(spec.concurrency ?? 0)) problems.push(invalidArgument("workload.spec.concurrency", `allow, forbid or replace, got ${spec.concurrency}`));
  const deadline = durationMs(spec.startingDeadline);
  if (deadline !== undefined && (deadline < MIN_STARTING_DEADLINE_MS || spec.startingDeadline!.seconds < 0 || spec.startingDeadline!.nanos < 0)) {
    problems.push(invalidArgument("workload.spec.starting_deadline", `at least ${formatDurationMs(MIN_STARTING_DEADLINE_MS)} (unset: no limit), got ${deadline / 1000}s`));
  }
  if (spec.keepRuns !== undefined && spec.keepRuns > MAX_KEEP_RUNS) problems.push(invalidArgument("workload.spec.keep_runs", `at most ${MAX_KEEP_RUNS}, got ${spec.keepRuns}`));
  if (name.length > MAX_PERIODIC_NAME) problems.push(invalidArgument("workload.name", `at most ${MAX_PERIODIC_NAME} characters for a periodic batch (its runs add -YYYYMMDD-HHMMSS-manual), got ${name.length}`));
  return problems;
}
