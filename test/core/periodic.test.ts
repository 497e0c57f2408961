/**
 * Periodic batches (spec.schedule, issue 32): what the core validates, when a run starts or a
 * time is skipped (concurrency, starting deadline, times missed), what is kept (keep_runs),
 * `ctl run`'s decision, when the writer must wake, and what a status says.
 */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { type ClusterState, emptyState } from "../../src/core/model/cluster-state.js";
import { runName, scheduleProblem } from "../../src/core/model/schedule.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { DEFAULT_POLICY, nextWakeup, plan, type Policy } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { workloadStatus } from "../../src/core/views/workload-status.js";
import { cronNext } from "../../src/control/writer/cron.js";
import { ConcurrencyPolicy, type WorkloadSpec, WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { spec, T0 } from "./fixtures.js";

const POLICY: Policy = { ...DEFAULT_POLICY, cronNext };
/** A whole minute: @every 1m's times fall on it. */
const START = Math.floor(T0 / 60_000) * 60_000 + 10_000;
const NEXT = START - 10_000 + 60_000;

const batch = (over: Partial<WorkloadSpec> = {}) => spec({ kind: WorkloadKind.WORKLOAD_KIND_BATCH, schedule: "@every 1m", ...over });
const applied = (over: Partial<WorkloadSpec> = {}, name = "backup"): Command => ({ type: "ApplyWorkload", name, labels: { team: "ops" }, spec: batch(over) });

/** A state with `backup` applied at START (and its runs' turns run at each `at`). */
function cluster(over: Partial<WorkloadSpec> = {}, policy = POLICY): { state: ClusterState; turn: (now: number, commands?: Command[]) => ClusterEvent[] } {
  const state = emptyState();
  const turn = (now: number, commands: Command[] = []) => runTurn(state, commands, { now, policy, reconcile: true }).events;
  turn(START, [applied(over)]);
  return { state, turn };
}

const ofType = <K extends ClusterEvent["type"]>(events: ClusterEvent[], type: K) => events.filter((e): e is Extract<ClusterEvent, { type: K }> => e.type === type);

describe("validation names the field", () => {
  const problems = (over: Partial<WorkloadSpec>, name = "backup") => validateWorkload({ name, labels: {}, spec: batch(over) }).map((p) => (p.kind === "InvalidArgument" ? `${p.field}: ${p.expected}` : p.kind));
  test.each([
    ["a bad minute", { schedule: "61 * * * *" }, 'workload.spec.schedule: minute: *, a value or a range of 0-59, got "61", in "61 * * * *"'],
    ["six fields", { schedule: "0 0 3 * * *" }, "workload.spec.schedule: five cron fields"],
    ["an unknown macro", { schedule: "@fortnightly" }, "workload.spec.schedule: five cron fields"],
    ["@every below a second", { schedule: "@every 500ms" }, 'workload.spec.schedule: @every with a whole number of seconds, at least 1s (@every 30s), got "@every 500ms"'],
    ["an unknown time zone", { schedule: "0 3 * * *", timeZone: "Mars/Olympus" }, 'workload.spec.time_zone: an IANA time zone (Europe/Paris, America/New_York; empty: UTC), got "Mars/Olympus"'],
    ["a time zone with @every", { timeZone: "Europe/Paris" }, "workload.spec.time_zone: none with @every"],
    ["a schedule on a service", { kind: WorkloadKind.WORKLOAD_KIND_SERVICE }, "workload.spec.schedule: none for a service workload: only kind batch runs on a schedule"],
    ["keep_runs without a schedule", { schedule: "", keepRuns: 2 }, "workload.spec.keep_runs: none without a schedule"],
    ["concurrency without a schedule", { schedule: "", concurrency: ConcurrencyPolicy.CONCURRENCY_POLICY_FORBID }, "workload.spec.concurrency: none without a schedule"],
    ["too many runs kept", { keepRuns: 101 }, "workload.spec.keep_runs: at most 100, got 101"],
    ["a starting deadline under a second", { startingDeadline: { seconds: 0, nanos: 5e8 } }, "workload.spec.starting_deadline: at least 1s (unset: no limit), got 0.5s"],
  ])("refuses %s", (_, over, expected) => {
    expect(problems(over)[0]).toStartWith(expected);
  });

  test("a name that leaves no room for the run's time is refused; a sound schedule is not", () => {
    expect(problems({}, "b".repeat(41))).toEqual(["workload.name: at most 40 characters for a periodic batch (its runs add -YYYYMMDD-HHMMSS-manual), got 41"]);
    for (const s of ["0 3 * * *", "*/5 9-17 * jan-jun mon-fri", "@hourly", "@every 30s", "0 0 1,15 * *"]) expect([s, scheduleProblem(s)]).toEqual([s, undefined]);
    expect(problems({ schedule: "0 3 * * *", timeZone: "Europe/Paris", concurrency: ConcurrencyPolicy.CONCURRENCY_POLICY_REPLACE, keepRuns: 0 })).toEqual([]);
  });
});

describe("runs start on time, from the state and now alone", () => {
  test("a run is named after its time in UTC, to the second", () => {
    expect(runName("backup", Date.UTC(2026, 11, 6, 3, 0, 0, 999))).toBe("backup-20261206-030000");
    expect(runName("backup", Date.UTC(2026, 11, 6, 3, 0, 0, 999), true)).toBe("backup-20261206-030000-manual");
  });

  test("nothing before the first time; at it, a run: a batch of its own with the spec's batch fields, without the schedule", () => {
    const { state, turn } = cluster({ completions: 2, parallelism: 2 });
    expect(nextWakeup(state, POLICY, undefined)).toBe(NEXT);
    expect(turn(NEXT - 1)).toEqual([]);
    const events = turn(NEXT);
    const run = runName("backup", NEXT);
    expect(ofType(events, "PeriodicRunStarted")).toEqual([{ type: "PeriodicRunStarted", at: NEXT, name: "backup", run, due: NEXT }]);
    const w = state.workloads.get(run)!;
    expect({ labels: w.labels, schedule: w.spec.schedule, completions: w.spec.completions, runOf: w.runOf }).toEqual({ labels: { team: "ops" }, schedule: "", completions: 2, runOf: { workload: "backup", due: NEXT } });
    // The run is planned in the same turn: its two indexes wait for a node.
    expect(ofType(events, "InstanceCreated").map((e) => e.workload)).toEqual([run, run]);
    expect(nextWakeup(state, POLICY, undefined)).toBe(NEXT + 60_000);
    // Planning again at the same time starts nothing more.
    expect(plan(state, NEXT, POLICY).launch).toEqual([]);
  });

  test.each([
    ["allow", ConcurrencyPolicy.CONCURRENCY_POLICY_ALLOW, { launch: 1, skip: [], expire: [] }],
    ["forbid", ConcurrencyPolicy.CONCURRENCY_POLICY_FORBID, { launch: 0, skip: [`run ${runName("backup", NEXT)} is still active (concurrency forbid)`], expire: [] }],
    ["replace", ConcurrencyPolicy.CONCURRENCY_POLICY_REPLACE, { launch: 1, skip: [], expire: [`${runName("backup", NEXT)}: replaced by run ${runName("backup", NEXT + 60_000)} (concurrency replace)`] }],
  ])("concurrency %s, with the last run still active", (_, concurrency, expected) => {
    const { turn } = cluster({ concurrency });
    turn(NEXT);
    const events = turn(NEXT + 60_000);
    expect({
      launch: ofType(events, "PeriodicRunStarted").length,
      skip: ofType(events, "PeriodicRunSkipped").map((e) => e.reason),
      expire: ofType(events, "WorkloadExpired").map((e) => `${e.name}: ${e.reason}`),
    }).toEqual(expected);
  });

  test("times missed while down: the earlier ones skipped in one record, the latest started late, unless past the starting deadline", () => {
    const late = cluster();
    const events = late.turn(NEXT + 3 * 60_000 + 20_000);
    expect(ofType(events, "PeriodicRunSkipped").map((e) => [e.due, e.reason])).toEqual([[NEXT + 2 * 60_000, "3 runs missed while the control plane was down; only the latest may start late"]]);
    expect(ofType(events, "PeriodicRunStarted").map((e) => e.due)).toEqual([NEXT + 3 * 60_000]);

    const strict = cluster({ startingDeadline: { seconds: 10, nanos: 0 } });
    expect(ofType(strict.turn(NEXT + 9_000), "PeriodicRunStarted").map((e) => e.due)).toEqual([NEXT]);
    const skipped = ofType(strict.turn(NEXT + 60_000 + 11_000), "PeriodicRunSkipped");
    expect(skipped.map((e) => [e.due, e.reason])).toEqual([[NEXT + 60_000, "missed by 11s, past its starting deadline of 10s"]]);
    expect(workloadStatus(strict.state, strict.state.workloads.get("backup")!, [], NEXT + 61_000, cronNext)).toMatchObject({
      phase: "Scheduled",
      lastRun: runName("backup", NEXT + 60_000),
      lastRunOutcome: "Skipped: missed by 11s, past its starting deadline of 10s",
      nextRunTime: NEXT + 2 * 60_000,
    });
  });

  test("finished runs beyond keep_runs are deleted, oldest first; the batch deleted takes its runs with it", () => {
    const { state, turn } = cluster({ keepRuns: 1 });
    const events: ClusterEvent[] = [];
    for (let i = 0; i < 3; i++) {
      events.push(...turn(NEXT + i * 60_000));
      // The run is done (as the reconciler records a batch that completed).
      const run = runName("backup", NEXT + i * 60_000);
      state.workloads.get(run)!.finished = { at: NEXT + i * 60_000 + 1, outcome: "complete", reason: "1 of 1 succeeded" };
    }
    events.push(...turn(NEXT + 2 * 60_000 + 5_000));
    expect(ofType(events, "WorkloadExpired").map((e) => [e.name, e.reason])).toEqual([
      [runName("backup", NEXT), "older than the 1 finished run backup keeps (keep_runs)"],
      [runName("backup", NEXT + 60_000), "older than the 1 finished run backup keeps (keep_runs)"],
    ]);
    expect(workloadStatus(state, state.workloads.get("backup")!, [], NEXT + 2 * 60_000 + 5_000, cronNext)).toMatchObject({ lastRun: runName("backup", NEXT + 2 * 60_000), lastRunOutcome: "Complete: 1 of 1 succeeded" });
    const gone = turn(NEXT + 2 * 60_000 + 6_000, [{ type: "DeleteWorkload", name: "backup" }]);
    expect(ofType(gone, "WorkloadExpired").map((e) => e.name)).toEqual([runName("backup", NEXT + 2 * 60_000)]);
  });

  test("a cron schedule is read in its time zone by the parser handed in; without one it never comes due", () => {
    const paris = cluster({ schedule: "0 3 * * *", timeZone: "Europe/Paris" });
    const due = nextWakeup(paris.state, POLICY, undefined)!;
    expect(new Date(due).toISOString().slice(11, 16)).toBe("02:00"); // 03:00 in Paris in November
    expect(ofType(paris.turn(due), "PeriodicRunStarted")).toHaveLength(1);
    const blind = cluster({ schedule: "0 3 * * *" }, DEFAULT_POLICY);
    expect(nextWakeup(blind.state, DEFAULT_POLICY, undefined)).toBeUndefined();
  });
});

describe("ctl run (RunWorkload)", () => {
  test("starts a run now, named after the second, whatever the concurrency; the schedule stays where it was", () => {
    const { state, turn } = cluster({ concurrency: ConcurrencyPolicy.CONCURRENCY_POLICY_FORBID });
    turn(NEXT);
    const at = NEXT + 12_345;
    const d = decide(state, { type: "RunWorkload", name: "backup" }, at);
    expect(d.rejection).toBeUndefined();
    expect(ofType(d.events, "PeriodicRunStarted")).toEqual([{ type: "PeriodicRunStarted", at, name: "backup", run: runName("backup", at, true), due: NEXT + 12_000, manual: true }]);
    const events = turn(at, [{ type: "RunWorkload", name: "backup" }]);
    expect(state.workloads.get(runName("backup", at, true))?.runOf).toEqual({ workload: "backup", due: NEXT + 12_000, manual: true });
    expect(ofType(events, "InstanceCreated").map((e) => e.workload)).toEqual([runName("backup", at, true)]);
    expect(state.workloads.get("backup")!.periodic!.handled).toBe(NEXT);
    expect(decide(state, { type: "RunWorkload", name: "backup" }, at + 500).rejection).toEqual({ kind: "RunExists", name: "backup", run: runName("backup", at, true) });
    // At a scheduled time's second, the run by hand and the one on schedule each have their own name.
    const both = cluster();
    const manual = both.turn(NEXT, [{ type: "RunWorkload", name: "backup" }]);
    expect(ofType(manual, "PeriodicRunStarted").map((e) => e.run).sort()).toEqual([runName("backup", NEXT), runName("backup", NEXT, true)]);
  });

  test.each([
    ["an unknown workload", "nope", { kind: "UnknownWorkload", name: "nope" }],
    ["a workload without a schedule", "plain", { kind: "NotPeriodic", name: "plain" }],
  ])("refuses %s", (_, name, rejection) => {
    const { state, turn } = cluster();
    turn(START, [{ type: "ApplyWorkload", name: "plain", labels: {}, spec: spec() }]);
    expect(decide(state, { type: "RunWorkload", name }, NEXT).rejection).toEqual(rejection as never);
  });
});
