/** Cost runs (#21): each lifecycle's decisions through the real reconciler, what they cost and how long copies wait, and the ranking. */
import { describe, expect, test } from "bun:test";
import type { CostSample, LifecycleReport } from "../../src/sim/cost-lifecycle-run.js";
import { simulateCost } from "../../src/sim/cost-run.js";
import { type CostScenario, parseCostScenario } from "../../src/sim/cost-scenario.js";

const H = 3_600_000;
const M = 60_000;

function scenario(doc: Record<string, unknown>): CostScenario {
  const r = parseCostScenario(doc);
  if ("problems" in r) throw new Error(JSON.stringify(r.problems));
  return r.scenario;
}

/** 4 nodes of 4 copies, price 1 an hour; 4 copies, 12 from 1h to 2h, over 4h. */
const pool = { name: "gp", count: 4, cpu_millis: 4000, memory_mb: 8192, price_per_hour: 1, boot: "2m", idle_release: "10m", stoppable: true, start: "20s", stopped_price_per_hour: 0.1, spot_price_per_hour: 0.25 };
const burst = { workload: "web", resources: { cpu_millis: 1000, memory_mb: 1024 }, series: [{ at: "0s", replicas: 4 }, { at: "1h", replicas: 12 }, { at: "2h", replicas: 4 }] };
const base = { pools: [pool], demand: [burst], duration: "4h" };

function run(doc: Record<string, unknown>, name: string): LifecycleReport {
  return simulateCost(scenario(doc)).strategies.find((s) => s.name === name)!;
}

/** The CPU of the nodes up at `t`, from the run's samples. */
function capacityAt(samples: CostSample[], t: number): number {
  return samples.filter((s) => s.at <= t).at(-1)!.capacityCpu;
}

describe("scale-to-fit", () => {
  const r = run(base, "scale-to-fit");
  test("boots a node when demand exceeds what is up, and two more for the burst; copies wait the boot", () => {
    expect(capacityAt(r.samples, 2 * M - 1)).toBe(0);
    expect(capacityAt(r.samples, 2 * M)).toBe(4000);
    expect(capacityAt(r.samples, H + 2 * M - 1)).toBe(4000);
    expect(capacityAt(r.samples, H + 2 * M)).toBe(12_000);
    expect(r.boots).toBe(3);
    expect(r.waitMs).toEqual({ p50: 2 * M, p95: 2 * M, max: 2 * M, copies: 12 });
    expect(r.unschedulableReplicaMinutes).toBe(12 * 2);
  });
  test("lets idle nodes go after the delay, not before", () => {
    expect(capacityAt(r.samples, 2 * H + 10 * M - 1)).toBe(12_000);
    expect(capacityAt(r.samples, 2 * H + 10 * M)).toBe(4000);
    expect(capacityAt(r.samples, 4 * H)).toBe(4000);
  });
  test("pays for nodes from the boot asked to the release: 4h, and 1h10m twice", () => {
    expect(r.cost).toBeCloseTo(4 + 2 * (70 / 60), 4);
  });
});

test("always-on: every node up from the start, no copy waits, all hours paid", () => {
  const r = run(base, "always-on");
  expect(r.waitMs).toEqual({ p50: 0, p95: 0, max: 0, copies: 12 });
  expect(r.cost).toBe(16);
  expect(r.boots).toBe(0);
  expect(r.samples.every((s) => s.capacityCpu === 16_000)).toBe(true);
  // 4 copies of 16 for 3h, 12 for 1h: (4*3 + 12) / (16*4).
  expect(r.utilizationPercent).toBe(37.5);
});

test("stopped-pool: nodes start from stopped (20s), and are stopped, costing the stopped price, when idle", () => {
  const r = run(base, "stopped-pool");
  expect(r.waitMs).toMatchObject({ p50: 20_000, max: 20_000, copies: 12 });
  expect(capacityAt(r.samples, 2 * H + 10 * M)).toBe(4000);
  // Node 0 all 4h; nodes 1 and 2 up 1h10m; the rest of their time, and node 3's, stopped at 0.1.
  expect(r.cost).toBeCloseTo(4 + 2 * (70 / 60) + 0.1 * (2 * (4 - 70 / 60) + 4), 4);
});

test("hybrid: its baseline is up from the start (no wait), the burst waits a boot", () => {
  const r = run({ ...base, pools: [{ ...pool, baseline: 1 }] }, "hybrid");
  expect(capacityAt(r.samples, 0)).toBe(4000);
  expect(r.waitMs.copies).toBe(12);
  expect(r.waitMs.p50).toBe(2 * M);
  expect(r.boots).toBe(2);
  expect(r.cost).toBeCloseTo(4 + 2 * (70 / 60), 4);
});

describe("spot", () => {
  const doc = { ...base, pools: [{ ...pool, spot_interruptions_per_hour: 2 }], duration: "8h", seed: 3 };
  const r = run(doc, "spot");
  test("interruptions take nodes away; their copies are rescheduled on nodes booted for them, and all run again", () => {
    expect(r.interruptions).toBeGreaterThan(0);
    expect(r.reschedules).toBeGreaterThan(0);
    // Every copy that ran waits once when wanted, and once more each time its node is interrupted.
    expect(r.waitMs.copies).toBe(12 + r.reschedules);
    // A rescheduled copy waits for Offline (5s of silence) and a boot.
    expect(r.waitMs.max).toBeGreaterThanOrEqual(2 * M + 5_000);
  });
  test("the same seed gives the same report; another seed other interruptions", () => {
    expect(run(doc, "spot")).toEqual(r);
    expect(run({ ...doc, seed: 4 }, "spot").samples).not.toEqual(r.samples);
  });
  test("costs the spot price", () => {
    const none = run({ ...doc, pools: [pool] }, "spot");
    expect(none.interruptions).toBe(0);
    expect(none.cost).toBeCloseTo(run({ ...doc, pools: [pool] }, "scale-to-fit").cost * 0.25, 4);
  });
});

test("a combination: an always-on base pool takes what it holds, a spot pool boots only for the overflow", () => {
  const doc = {
    pools: [{ ...pool, name: "base", count: 1 }, { ...pool, name: "burst", spot_interruptions_per_hour: 0 }],
    demand: [burst],
    duration: "4h",
    strategies: [{ name: "base+spot", pools: { base: "always-on", burst: "spot" } }],
  };
  const r = run(doc, "base+spot");
  // The 4 copies run on base at once; the 8 of the burst wait for 2 spot nodes.
  expect(r.boots).toBe(2);
  expect(r.waitMs).toMatchObject({ p50: 2 * M, max: 2 * M, copies: 12 });
  expect(r.unschedulableReplicaMinutes).toBe(8 * 2);
  expect(r.cost).toBeCloseTo(4 + 2 * (70 / 60) * 0.25, 4);
});

describe("ranking", () => {
  const names = (doc: Record<string, unknown>) => simulateCost(scenario(doc)).strategies.map((s) => [s.rank, s.name]);
  test("by default the cheapest whose p95 wait is within the bound (5m): always-on is the dearest", () => {
    const report = simulateCost(scenario(base));
    expect(report.strategies.map((s) => s.name)).toEqual(["spot", "scale-to-fit", "hybrid", "stopped-pool", "always-on"]);
    expect(report.summary).toBe("spot ranks first by cheapest-within-wait: cost 1.58, p95 wait 2m00s (bound 5m00s); next scale-to-fit: cost 6.33, p95 wait 2m00s");
  });
  test("a bound only always-on and the stopped pool meet puts them first; fastest puts always-on first", () => {
    expect(names({ ...base, max_p95_wait: "30s" }).slice(0, 2)).toEqual([[1, "stopped-pool"], [2, "always-on"]]);
    expect(names({ ...base, objective: "fastest" })[0]).toEqual([1, "always-on"]);
    expect(names({ ...base, objective: "cheapest" })[0]).toEqual([1, "spot"]);
  });
});
