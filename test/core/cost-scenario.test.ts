/** Cost scenarios (#21): what is read, the default combinations, and every refusal naming its field path. */
import { describe, expect, test } from "bun:test";
import { DAY_MS, isCostScenario, parseCostScenario } from "../../src/sim/cost-scenario.js";
import { describeRejection } from "../../src/core/model/rejections.js";

const pool = { name: "gp", count: 4, cpu_millis: 4000, memory_mb: 8192, price_per_hour: 0.2, boot: "2m" };
const web = { workload: "web", resources: { cpu_millis: 1000, memory_mb: 1024 }, series: [{ at: "0s", replicas: 2 }] };

function problems(doc: unknown): string[] {
  const r = parseCostScenario(doc);
  return "problems" in r ? r.problems.map(describeRejection) : [];
}

describe("parseCostScenario", () => {
  test("reads pools and a series with defaults: a week, seed 1, cheapest within a 5m p95 wait, each lifecycle the pool supports", () => {
    const r = parseCostScenario({ pools: [pool], demand: [web] });
    expect(r).toEqual({
      scenario: {
        pools: [{ name: "gp", count: 4, capacity: { cpuMillis: 4000, memoryMb: 8192 }, labels: {}, pricePerHour: 0.2, bootMs: 120_000, idleReleaseMs: 600_000 }],
        demand: [{ workload: "web", resources: { cpuMillis: 1000, memoryMb: 1024 }, nodeSelector: {}, steps: [{ at: 0, replicas: 2 }] }],
        durationMs: 7 * DAY_MS,
        seed: 1,
        objective: "cheapest-within-wait",
        maxP95WaitMs: 300_000,
        plans: (["always-on", "scale-to-fit", "hybrid"] as const).map((l) => ({ name: l, pools: { gp: l } })),
      },
    });
  });

  test("a stoppable pool with spot prices offers every lifecycle; a daily curve repeats, the day's last step holding from midnight", () => {
    const r = parseCostScenario({
      pools: [{ ...pool, stoppable: true, start: "20s", stopped_price_per_hour: 0.01, spot_price_per_hour: 0.06, spot_interruptions_per_hour: 0.1, baseline: 1 }],
      demand: [{ ...web, series: undefined, daily: [{ at: "18h", replicas: 1 }, { at: "9h", replicas: 5 }] }],
      duration: "48h",
    });
    if ("problems" in r) throw new Error(JSON.stringify(r.problems));
    expect(r.scenario.pools[0]).toMatchObject({ stoppable: { startMs: 20_000, pricePerHour: 0.01 }, spot: { pricePerHour: 0.06, interruptionsPerHour: 0.1 }, baseline: 1 });
    expect(r.scenario.plans.map((p) => p.name)).toEqual(["always-on", "scale-to-fit", "stopped-pool", "spot", "hybrid"]);
    const h = 3_600_000;
    expect(r.scenario.demand[0]!.steps).toEqual([
      { at: 0, replicas: 1 },
      { at: 9 * h, replicas: 5 },
      { at: 18 * h, replicas: 1 },
      { at: 33 * h, replicas: 5 },
      { at: 42 * h, replicas: 1 },
    ]);
  });

  test("combinations the scenario lists, a lifecycle per pool", () => {
    const r = parseCostScenario({ pools: [pool, { ...pool, name: "burst", spot_price_per_hour: 0.05 }], demand: [web], strategies: [{ name: "base+spot", pools: { gp: "always-on", burst: "spot" } }], objective: "fastest" });
    if ("problems" in r) throw new Error(JSON.stringify(r.problems));
    expect(r.scenario.plans).toEqual([{ name: "base+spot", pools: { gp: "always-on", burst: "spot" } }]);
    expect(r.scenario.objective).toBe("fastest");
  });

  test("pools and demand make a cost scenario; fleet and workloads a placement one", () => {
    expect(isCostScenario({ pools: [], demand: [] })).toBe(true);
    expect(isCostScenario({ fleet: [], workloads: [] })).toBe(false);
    expect(isCostScenario([])).toBe(false);
  });

  test.each([
    ["a negative price", { pools: [{ ...pool, price_per_hour: -1 }], demand: [web] }, ["pools[0].price_per_hour: expected a non-negative number, got -1"]],
    ["no boot time", { pools: [{ ...pool, boot: undefined }], demand: [web] }, ["pools[0].boot: expected a duration like 500ms, 40s or 1m30s (a bare number is seconds), got nothing"]],
    ["a start time without stoppable", { pools: [{ ...pool, start: "10s" }], demand: [web] }, ["pools[0].start: expected none unless stoppable: true"]],
    ["an interruption rate without a spot price", { pools: [{ ...pool, spot_interruptions_per_hour: 1 }], demand: [web] }, ["pools[0].spot_interruptions_per_hour: expected none without spot_price_per_hour"]],
    ["an unknown pool field", { pools: [{ ...pool, prices: 1 }], demand: [web] }, [expect.stringMatching(/^pools\[0\]\.prices: expected one of the fields name, count, /)]],
    ["too many nodes", { pools: [{ ...pool, count: 600 }, { ...pool, name: "b", count: 600 }], demand: [web] }, ["pools: expected at most 1000 nodes in all, got 1200"]],
    ["both series and daily", { pools: [pool], demand: [{ ...web, daily: [] }] }, ["demand[0]: expected either series (replicas at times over the run) or daily (replicas at times of day, every day)"]],
    ["a daily step past the day", { pools: [pool], demand: [{ ...web, series: undefined, daily: [{ at: "24h", replicas: 1 }] }] }, ["demand[0].daily[0].at: expected at most 23h59m59s999ms, got 24h"]],
    ["a series step past the run", { pools: [pool], demand: [{ ...web, series: [{ at: "2h", replicas: 1 }] }], duration: "1h" }, ["demand[0].series[0].at: expected at most 1h, got 2h"]],
    ["negative replicas", { pools: [pool], demand: [{ ...web, series: [{ at: "0s", replicas: -1 }] }] }, ["demand[0].series[0].replicas: expected a non-negative integer, got -1"]],
    ["a workload no pool can take", { pools: [pool], demand: [{ ...web, node_selector: { gpu: "yes" } }, { ...web, workload: "big", resources: { cpu_millis: 8000 } }] }, ["demand[0]: expected a workload some pool's nodes can take (labels and size), got 1000m and 1024 MB on gpu=yes", "demand[1]: expected a workload some pool's nodes can take (labels and size), got 8000m and 64 MB"]],
    ["an unknown objective", { pools: [pool], demand: [web], objective: "best" }, ['objective: expected cheapest-within-wait, cheapest, fastest, got "best"']],
    ["a lifecycle the pool does not support", { pools: [pool], demand: [web], strategies: [{ name: "s", pools: { gp: "spot" } }] }, ["strategies[0].pools.gp: expected a lifecycle the pool supports (spot needs spot_price_per_hour), got spot"]],
    ["an unknown lifecycle", { pools: [pool], demand: [web], strategies: [{ name: "s", pools: { gp: "sometimes" } }] }, ['strategies[0].pools.gp: expected always-on, scale-to-fit, stopped-pool, spot, hybrid, got "sometimes"']],
    ["a combination naming no pool of the scenario", { pools: [pool], demand: [web], strategies: [{ name: "s", pools: { gp: "always-on", other: "spot" } }] }, ["strategies[0].pools.other: expected one of the fields gp (unknown field)"]],
  ])("%s", (_, doc, expected) => {
    expect(problems(doc)).toEqual(expected);
  });
});
