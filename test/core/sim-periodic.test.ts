/** `tessera sim` with a periodic batch (issue 32): its runs start in simulated time; its fields are read as a manifest's. */
import { describe, expect, test } from "bun:test";
import { describeRejection } from "../../src/core/model/rejections.js";
import { simulate } from "../../src/sim/sim-run.js";
import { parseScenario } from "../../src/sim/sim-scenario.js";
import { cronNext } from "../../src/control/writer/cron.js";

const fleet = [{ name: "n", count: 2, cpu_millis: 4000, memory_mb: 4096 }];

describe("a periodic batch in a scenario", () => {
  test("its runs start in the simulated fleet at its times, under every strategy; forbid keeps one at a time", () => {
    const times = (concurrency: string) => {
      const parsed = parseScenario({ fleet, workloads: [{ name: "tick", kind: "batch", schedule: "@every 10s", concurrency }], duration: "1m" });
      if ("problems" in parsed) throw new Error(parsed.problems.map(describeRejection).join("; "));
      return simulate(parsed.scenario, undefined, cronNext).strategies.map((s) => [s.strategy, s.periodicRuns, s.unschedulable]);
    };
    // Simulated copies never exit: with allow every time starts a run (5 or 6 in a minute, by where the clock starts); with forbid only the first.
    for (const [, runs, unschedulable] of times("allow")) {
      expect(runs).toBeGreaterThanOrEqual(5);
      expect(unschedulable).toBe(0);
    }
    expect(times("forbid").map(([, runs]) => runs)).toEqual([1, 1]);
  });

  test("a cron schedule needs the parser handed in; a scenario without periodic batches reports no runs", () => {
    const parsed = parseScenario({ fleet, workloads: [{ name: "nightly", kind: "batch", schedule: "* * * * *" }, { name: "web", replicas: 1 }], duration: "3m" });
    if ("problems" in parsed) throw new Error("refused");
    expect(simulate(parsed.scenario, ["spread"], cronNext).strategies[0]!.periodicRuns).toBeGreaterThanOrEqual(2);
    const plain = parseScenario({ fleet, workloads: [{ name: "web", replicas: 1 }] });
    if ("problems" in plain) throw new Error("refused");
    expect(simulate(plain.scenario, ["spread"], cronNext).strategies[0]!.periodicRuns).toBeUndefined();
  });

  test.each([
    [{ kind: "batch", schedule: "0 3 * *" }, "workloads[0].schedule: expected five cron fields"],
    [{ kind: "batch", schedule: "0 3 * * *", time_zone: "Nowhere/Land" }, "workloads[0].time_zone: expected an IANA time zone"],
    [{ schedule: "@hourly" }, "workloads[0].schedule: expected none for a service workload"],
    [{ kind: "batch", schedule: "@hourly", concurrency: "sometimes" }, "workloads[0].concurrency: expected allow, forbid or replace"],
  ])("refuses %j naming the field", (workload, expected) => {
    const parsed = parseScenario({ fleet, workloads: [{ name: "job", ...workload }] });
    expect("problems" in parsed ? describeRejection(parsed.problems[0]!) : "accepted").toStartWith(expected);
  });
});
