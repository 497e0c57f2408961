/**
 * A periodic batch's schedule (spec.schedule, time_zone): what it says, whether it is well
 * formed, when it is next due after a time, and the names of its runs. PURE.
 *
 * Cron expressions are evaluated by a parser from outside the core (src/control/writer/cron.ts
 * wraps one), handed in as a CronNext: the core may not import a package, and replay, what-if
 * and the simulator are handed the same function, so they decide as the writer did. `@every`
 * and the check of a schedule's form need no calendar and are the core's own.
 */
import { isoTime } from "../views/iso-time.js";
import { parseDurationMs } from "./duration.js";

/** The first time strictly after `afterMs` that `cron` (five fields) matches in `timeZone` (IANA; "" is UTC), or undefined when none. */
export type CronNext = (cron: string, timeZone: string, afterMs: number) => number | undefined;

/** A schedule read: every `everyMs` since the epoch, or a five-field cron expression in a time zone. */
export type Schedule = { everyMs: number } | { cron: string; timeZone: string };

/** The macros, as the cron expressions they stand for (Vixie cron's). */
const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** What spec.schedule takes, for refusals. */
export const SCHEDULE_EXPECTED = `five cron fields ("0 3 * * *": minute hour day-of-month month day-of-week), ${Object.keys(MACROS).join(", ")}, or "@every DURATION" (@every 30s)`;

/** Each cron field: its name, range and the names it also takes. */
const FIELDS: Array<{ name: string; min: number; max: number; names?: string[] }> = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/** The shortest @every: a run a second is as often as run names (one a second) can tell apart. */
const MIN_EVERY_MS = 1_000;

/** The schedule `text` says, or undefined when it is empty or malformed (scheduleProblem says why). */
export function readSchedule(text: string, timeZone: string): Schedule | undefined {
  const t = text.trim();
  if (t === "" || scheduleProblem(t) !== undefined) return undefined;
  if (t.startsWith("@every")) return { everyMs: parseDurationMs(t.slice("@every".length).trim())! };
  return { cron: MACROS[t.toLowerCase()] ?? t.split(/\s+/).join(" "), timeZone };
}

/** Why `text` is not a schedule, or undefined when it is one. */
export function scheduleProblem(text: string): string | undefined {
  const t = text.trim();
  if (t.startsWith("@every")) {
    const ms = parseDurationMs(t.slice("@every".length).trim());
    if (ms === undefined || ms < MIN_EVERY_MS || ms % MIN_EVERY_MS !== 0) return `@every with a whole number of seconds, at least 1s (@every 30s), got "${text}"`;
    return undefined;
  }
  if (t.startsWith("@")) return MACROS[t.toLowerCase()] ? undefined : `${SCHEDULE_EXPECTED}; got "${text}"`;
  const fields = t.split(/\s+/);
  if (fields.length !== 5) return `${SCHEDULE_EXPECTED}; got ${fields.length} field${fields.length === 1 ? "" : "s"} in "${text}"`;
  for (const [i, f] of fields.entries()) {
    const problem = fieldProblem(f, FIELDS[i]!);
    if (problem) return `${FIELDS[i]!.name}: ${problem}, in "${text}"`;
  }
  return undefined;
}

/** Why one cron field is malformed: a list of *, N, N-M, each with an optional /STEP. */
function fieldProblem(field: string, spec: (typeof FIELDS)[number]): string | undefined {
  const value = (s: string) => {
    const named = spec.names?.indexOf(s.toLowerCase()) ?? -1;
    const n = named >= 0 ? named + (spec.min === 1 ? 1 : 0) : /^\d+$/.test(s) ? Number(s) : NaN;
    return n >= spec.min && n <= spec.max ? n : undefined;
  };
  for (const part of field.split(",")) {
    const [range = "", step, extra] = part.split("/");
    if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `a step is a positive number (*/5), got "${part}"`;
    if (range === "*") continue;
    const [from = "", to, more] = range.split("-");
    const a = value(from);
    const b = to === undefined ? a : value(to);
    if (more !== undefined || a === undefined || b === undefined || b < a) return `*, a value or a range of ${spec.min}-${spec.max}${spec.names ? ` (or ${spec.names[0]}-${spec.names.at(-1)})` : ""}, got "${part}"`;
  }
  return undefined;
}

/** Whether `timeZone` is an IANA time zone this runtime knows ("" is UTC). */
export function knownTimeZone(timeZone: string): boolean {
  if (timeZone === "") return true;
  try {
    new Intl.DateTimeFormat("en", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * When `schedule` is next due, strictly after `afterMs`; undefined when it never is again, or
 * when a cron schedule has no parser to evaluate it (a caller that passes none).
 */
export function nextDue(schedule: Schedule, afterMs: number, cronNext: CronNext | undefined): number | undefined {
  if ("everyMs" in schedule) return (Math.floor(afterMs / schedule.everyMs) + 1) * schedule.everyMs;
  return cronNext?.(schedule.cron, schedule.timeZone, afterMs);
}

/** What the name of a run started by hand (`ctl run`) ends with: it never takes a time's name. */
const MANUAL_SUFFIX = "-manual";

/** Characters a run's name adds to its workload's, at most: "-YYYYMMDD-HHMMSS-manual". */
export const RUN_SUFFIX_LENGTH = 16 + MANUAL_SUFFIX.length;

/**
 * The name of a run due at `dueMs`: NAME-YYYYMMDD-HHMMSS, the time in UTC to the second
 * (DNS-safe, sorts by time); one started by hand at that second adds -manual, so that a
 * `ctl run` at a scheduled time's second takes neither's name.
 */
export function runName(workload: string, dueMs: number, manual = false): string {
  const iso = isoTime(Math.floor(dueMs / 1_000) * 1_000);
  return `${workload}-${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}${manual ? MANUAL_SUFFIX : ""}`;
}
