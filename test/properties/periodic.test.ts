/**
 * Invariant 38 of ARCHITECTURE.md (fast-check, fixed printed seed): a periodic batch fires
 * exactly its schedule's times, once each, over a simulated week, whatever happens to the
 * control plane meanwhile. A writer sleeps until the core's nextWakeup and takes its turn a
 * little late; at random moments the control plane restarts (its state rebuilt by replay of
 * the log, or restored from the store's rows) after being down for up to 10 minutes (less than
 * any schedule's interval: a time missed starts late), or another control plane takes over,
 * from a snapshot taken earlier plus the logged events after it. The times run are then those
 * of the cron parser read on its own (croner, or @every's multiples), each once, none skipped.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import fc from "fast-check";
import { Cron } from "croner";
import type { Command } from "../../src/core/decide/commands.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { isVolatile } from "../../src/core/events/event-facts.js";
import { evolve, replay } from "../../src/core/events/evolve.js";
import { type ClusterState, emptyState } from "../../src/core/model/cluster-state.js";
import { DEFAULT_POLICY, nextWakeup, type Plan, type Policy } from "../../src/core/reconcile/reconcile.js";
import { QuietWorkloads } from "../../src/core/reconcile/quiet.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { cronNext } from "../../src/control/writer/cron.js";
import { WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { StoredRows } from "./stored-rows.js";

// Each property folds hundreds of generated histories: seconds of CPU, several times that on a loaded machine.
setDefaultTimeout(30_000);

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 20);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const WEEK_MS = 7 * 86_400_000;
const MINUTE = 60_000;
const POLICY: Policy = { ...DEFAULT_POLICY, cronNext };

/** Schedules whose times are at least 15 minutes apart: a control plane down for 10 misses at most one. */
const scheduleArb = fc.record({
  schedule: fc.constantFrom("*/15 * * * *", "0 3 * * *", "30 */6 * * 1-5", "@hourly", "@daily", "@every 45m", "@every 20m", "0 0 * * sun", "15 9 * * mon-fri", "0 */2 1-10 * *"),
  timeZone: fc.constantFrom("", "Europe/Paris", "America/New_York", "Asia/Kolkata"),
});

/** What happens to the control plane, at a fraction of the week. */
const outageArb = fc.record({
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  how: fc.constantFrom("replay" as const, "restore" as const, "new-leader" as const),
  downMs: fc.integer({ min: 0, max: 10 * MINUTE }),
});

/** The schedule's times in (from, to], read from the parser directly (the oracle). */
function expectedTimes(schedule: string, timeZone: string, from: number, to: number): number[] {
  const times: number[] = [];
  const every = /^@every (\d+)m$/.exec(schedule);
  if (every) {
    const step = Number(every[1]) * MINUTE;
    for (let t = (Math.floor(from / step) + 1) * step; t <= to; t += step) times.push(t);
    return times;
  }
  const cron = new Cron(schedule, { paused: true, timezone: timeZone === "" ? "UTC" : timeZone });
  for (let t = cron.nextRun(new Date(from)); t !== null && t.getTime() <= to; t = cron.nextRun(t)) times.push(t.getTime());
  return times;
}

/** One control plane's writer over the week; the log and the store's rows outlive it. */
class Cluster {
  state: ClusterState = emptyState();
  readonly log: ClusterEvent[] = [];
  readonly stored = new StoredRows();
  lastPlan: Plan | undefined;
  /** The writer's quiet workloads: its passes and its wakeup look at the awake ones only. */
  readonly quiet = new QuietWorkloads();
  /** What a standby holds: a snapshot of the store, and where the log stood then. */
  standby = { state: emptyState(), from: 0 };
  /** Runs started: the test deletes each once started, as if done (runs never finish without nodes). */
  private done: Command[] = [];

  turn(now: number, commands: Command[] = []): void {
    const r = runTurn(this.state, [...this.done, ...commands], { now, policy: POLICY, reconcile: true, quiet: this.quiet });
    this.done = r.events.flatMap((e) => (e.type === "PeriodicRunStarted" ? [{ type: "DeleteWorkload" as const, name: e.run }] : []));
    this.log.push(...r.events.filter((e) => !isVolatile(e)));
    this.stored.commit(r.events, this.state);
    this.lastPlan = r.plan;
  }

  /** The control plane stops; the next one starts from the log, the rows, or a standby's state. */
  restart(how: "replay" | "restore" | "new-leader"): void {
    if (how === "replay") this.state = replay(structuredClone(this.log));
    else if (how === "restore") this.state = this.stored.snapshot();
    else {
      this.state = this.standby.state;
      for (const e of this.log.slice(this.standby.from)) evolve(this.state, structuredClone(e));
    }
    this.lastPlan = undefined;
    this.quiet.forget();
    this.standby = { state: this.stored.snapshot(), from: this.log.length };
  }
}

describe("38: a periodic batch fires its schedule's times once each", () => {
  test("over a week, across restarts (replay, restore) and leader changes, late turns included", () => {
    fc.assert(
      fc.property(scheduleArb, fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2027, 0, 1) }), fc.array(outageArb, { maxLength: 6 }), fc.integer({ min: 0, max: 2_000 }), (s, start, outages, lateMs) => {
        const end = start + WEEK_MS;
        const cluster = new Cluster();
        const apply: Command = { type: "ApplyWorkload", name: "backup", labels: {}, spec: spec({ kind: WorkloadKind.WORKLOAD_KIND_BATCH, schedule: s.schedule, timeZone: s.schedule.startsWith("@every") ? "" : s.timeZone }) };
        cluster.turn(start, [apply]);
        expect(cluster.log.some((e) => e.type === "WorkloadApplied")).toBe(true);
        const downs = outages.map((o) => ({ ...o, at: start + Math.floor(o.at * WEEK_MS) })).sort((a, b) => a.at - b.at);
        let now = start;
        // Past the end by more than a down time: a time at the end that was missed has started late.
        for (let turns = 0; now <= end + 15 * MINUTE; turns++) {
          if (turns > 5_000) throw new Error("the writer never went to sleep");
          const wake = nextWakeup(cluster.state, POLICY, cluster.lastPlan, cluster.quiet.awake) ?? Number.POSITIVE_INFINITY;
          const down = downs[0];
          if (down !== undefined && down.at < wake) {
            downs.shift();
            now = Math.max(now, down.at) + down.downMs;
            cluster.restart(down.how);
            cluster.turn(now, [{ type: "StartListening", cause: "start" }]);
            continue;
          }
          now = Math.max(now, Math.min(wake, end + 16 * MINUTE)) + lateMs;
          cluster.turn(now);
        }
        const started = cluster.log.flatMap((e) => (e.type === "PeriodicRunStarted" ? [e.due] : [])).filter((t) => t <= end);
        expect(started).toEqual(expectedTimes(s.schedule, s.timeZone, start, end));
        expect(cluster.log.filter((e) => e.type === "PeriodicRunSkipped")).toEqual([]);
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
