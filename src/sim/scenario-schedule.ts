/**
 * A scenario workload's schedule (a periodic batch: schedule, time_zone, concurrency,
 * starting_deadline, keep_runs), in a manifest's words, checked as a manifest's is. PURE.
 */
import type { WorkloadKindName } from "../core/model/spec.js";
import { validateSchedule } from "../core/model/validate-schedule.js";
import type { WorkloadSpec } from "../gen/tessera/v1/types.js";
import { type Reader, show } from "./scenario-reader.js";

/** The schedule fields of a spec. */
export type PeriodicFields = Pick<WorkloadSpec, "schedule" | "timeZone" | "concurrency" | "startingDeadline" | "keepRuns">;

export const SCHEDULE_KEYS = ["schedule", "time_zone", "concurrency", "starting_deadline", "keep_runs"] as const;

const CONCURRENCY = ["allow", "forbid", "replace"] as const;

/** The schedule fields of `o`, undefined when it has none or they are refused (the reader keeps why). */
export function readPeriodic(r: Reader, o: Record<string, unknown>, field: string, kind: WorkloadKindName, name: string): PeriodicFields | undefined {
  if (SCHEDULE_KEYS.every((k) => o[k] === undefined)) return undefined;
  const text = (v: unknown, at: string) => (v === undefined ? "" : typeof v === "string" ? v : (r.refuse(at, `a string, got ${show(v)}`) ?? ""));
  const concurrency = o.concurrency === undefined ? undefined : r.choice(o.concurrency, `${field}.concurrency`, CONCURRENCY, "allow, forbid or replace");
  const deadline = o.starting_deadline === undefined ? undefined : r.duration(o.starting_deadline, `${field}.starting_deadline`);
  const keepRuns = o.keep_runs === undefined ? undefined : r.integer(o.keep_runs, `${field}.keep_runs`, 0, Number.MAX_SAFE_INTEGER);
  const fields: PeriodicFields = {
    schedule: text(o.schedule, `${field}.schedule`),
    timeZone: text(o.time_zone, `${field}.time_zone`),
    // The wire's numbers: 0 unset, then allow, forbid, replace.
    concurrency: concurrency === undefined ? 0 : CONCURRENCY.indexOf(concurrency) + 1,
    ...(deadline !== undefined ? { startingDeadline: { seconds: Math.floor(deadline / 1000), nanos: (deadline % 1000) * 1_000_000 } } : {}),
    ...(keepRuns !== undefined ? { keepRuns } : {}),
  };
  const problems = validateSchedule(name, { kind: kind === "batch" ? 3 : kind === "system" ? 2 : 1, ...fields } as WorkloadSpec);
  // The core's field names are the manifest's (workload.spec.x); here they are the scenario's.
  r.problems.push(...problems.map((p) => (p.kind === "InvalidArgument" ? { ...p, field: p.field.replace(/^workload\.(spec\.)?/, `${field}.`) } : p)));
  return problems.length > 0 ? undefined : fields;
}
