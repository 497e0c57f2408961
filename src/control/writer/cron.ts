/**
 * The cron parser the core is handed (Policy.cronNext, spec.schedule): croner, behind the
 * core's CronNext. Shell code: the core imports no package. Every caller that decides as the
 * writer does (the writer, replay, what-if, `tessera sim`, the status shown) takes this one.
 */
import { Cron } from "croner";
import type { CronNext } from "../../core/model/schedule.js";

/** Parsed expressions by expression and zone: a pass asks each periodic workload's every time. */
const parsed = new Map<string, Cron | null>();

/** A bounded cache: the distinct schedules of a cluster are few; a flood of bad ones is not kept. */
const MAX_PARSED = 10_000;

function cronOf(expression: string, timeZone: string): Cron | null {
  const key = `${timeZone} ${expression}`;
  let c = parsed.get(key);
  if (c === undefined) {
    try {
      // paused: never run anything; croner only computes times here. legacyMode (the default)
      // reads day of month and day of week as Vixie cron does: either matches.
      c = new Cron(expression, { paused: true, ...(timeZone === "" ? { timezone: "UTC" } : { timezone: timeZone }) });
    } catch {
      c = null;
    }
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(key, c);
  }
  return c;
}

/** When `expression` in `timeZone` is next due strictly after `afterMs`; undefined when never, or when malformed. */
export const cronNext: CronNext = (expression, timeZone, afterMs) => {
  try {
    const next = cronOf(expression, timeZone)?.nextRun(new Date(afterMs));
    return next ? next.getTime() : undefined;
  } catch {
    // A time zone unknown here (validation refuses one, but a log may come from elsewhere).
    return undefined;
  }
};

/** Why the parser refuses `expression` in `timeZone`, or undefined when it takes it. */
export function cronProblem(expression: string, timeZone: string): string | undefined {
  try {
    new Cron(expression, { paused: true, ...(timeZone === "" ? { timezone: "UTC" } : { timezone: timeZone }) }).nextRun();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
