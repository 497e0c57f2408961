/** `tessera sim`'s runner: strategies on a simulated fleet, what it reports, how it ranks. */
import { describe, expect, test } from "bun:test";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { simulate, type StrategyReport } from "../../src/sim/sim-run.js";
import { parseScenario, type Scenario } from "../../src/sim/sim-scenario.js";

/** A scenario from its document, as `tessera sim` reads it. */
function scenario(doc: unknown): Scenario {
  const r = parseScenario(doc);
  if ("problems" in r) throw new Error(JSON.stringify(r.problems));
  return r.scenario;
}

const of = (runs: StrategyReport[], strategy: string) => runs.find((r) => r.strategy === strategy)!;

const fourNodes = { name: "n", count: 4, cpu_millis: 4000, memory_mb: 4096 };

describe("simulate", () => {
  test("binpack uses fewer nodes than spread, and ranks first on empty nodes when nothing fails", () => {
    const report = simulate(scenario({ fleet: [fourNodes], workloads: [{ name: "web", replicas: 4, resources: { cpu_millis: 1000, memory_mb: 512 } }] }));
    const spread = of(report.strategies, "spread");
    const binpack = of(report.strategies, "binpack");
    expect(spread.utilization).toMatchObject({ nodesUsed: 4, emptyNodes: 0, cpuPercent: { mean: 25, max: 25 } });
    expect(binpack.utilization).toMatchObject({ nodesUsed: 1, emptyNodes: 3, cpuPercent: { mean: 25, max: 100 } });
    expect(binpack.nodes[0]).toEqual({ name: "n-0", alive: true, cpuMillis: { used: 4000, capacity: 4000 }, memoryMb: { used: 2048, capacity: 4096 }, instances: ["web-0", "web-1", "web-2", "web-3"] });
    expect(report.strategies.map((r) => [r.rank, r.strategy])).toEqual([
      [1, "binpack"],
      [2, "spread"],
    ]);
    expect(report.summary).toBe("binpack ranks first on empty nodes (3 vs 0 for spread); tied on unschedulable (0), convergence (11s), reschedules (0)");
  });

  test("a node kill is rescheduled once the node is Offline; spread loses fewer copies and ranks first", () => {
    const report = simulate(
      scenario({
        fleet: [fourNodes],
        workloads: [{ name: "web", replicas: 3, resources: { cpu_millis: 1000, memory_mb: 512 } }],
        failures: [{ at: "20s", kill: { group: "n", count: 1 } }],
      }),
    );
    const spread = of(report.strategies, "spread");
    const binpack = of(report.strategies, "binpack");
    // The busiest node dies: binpack had all three copies there, spread one.
    expect(spread.reschedules).toBe(1);
    expect(binpack.reschedules).toBe(3);
    for (const r of [spread, binpack]) {
      expect(r.placed).toBe(3);
      const [start, kill] = r.convergence;
      // Copies without readiness checks complete their rollout once up for min_healthy_time (10 s).
      expect(start).toEqual({ at: 0, event: "start", ms: 11_000 });
      expect(kill!.at).toBe(20_000);
      // Not before the node is declared Offline; then one tick to place, one for the reports.
      expect(kill!.ms).toBeGreaterThan(DEFAULT_POLICY.offlineAfterMs);
      expect(kill!.ms).toBeLessThanOrEqual(DEFAULT_POLICY.offlineAfterMs + 3_000);
    }
    expect(of(report.strategies, "binpack").convergence[1]!.event).toBe("kill n-0");
    expect(report.strategies[0]!.strategy).toBe("spread");
    expect(report.summary).toStartWith("spread ranks first on reschedules (1 vs 3 for binpack)");
  });

  test("a restored node comes back empty; a crashed replica is replaced after its backoff", () => {
    const report = simulate(
      scenario({
        fleet: [fourNodes],
        workloads: [{ name: "web", replicas: 2 }],
        failures: [
          { at: "5s", kill: { nodes: ["n-0", "n-3"] } },
          { at: "20s", restore: { group: "n" } },
          { at: "30s", crash: "web-0" },
        ],
        duration: "45s",
      }),
      ["spread"],
    );
    const [r] = report.strategies;
    expect(r!.convergence.map((c) => c.event)).toEqual(["start", "kill n-0, n-3", "restore n-0, n-3", "crash web-0"]);
    expect(r!.convergence.every((c) => c.ms !== null)).toBe(true);
    expect(r!.convergence[3]!.ms).toBeGreaterThanOrEqual(1_000);
    expect(r!.nodes.every((n) => n.alive)).toBe(true);
    expect(r!.placed).toBe(2);
    expect(report.summary).toBe("only spread simulated");
  });

  test("an over-full fleet reports its unschedulable replicas with the placer's reason", () => {
    const report = simulate(
      scenario({
        fleet: [{ name: "a", count: 1, cpu_millis: 1000, memory_mb: 1024, labels: { zone: "a" } }],
        workloads: [
          { name: "web", replicas: 3, resources: { cpu_millis: 600 } },
          { name: "db", node_selector: { zone: "b" } },
        ],
      }),
    );
    for (const r of report.strategies) {
      expect(r.desired).toBe(4);
      expect(r.placed).toBe(1);
      expect(r.unschedulable).toBe(3);
      expect(r.pending).toEqual([
        { workload: "db", replicas: 1, reason: "no node fits (1 lacks label zone=b)" },
        { workload: "web", replicas: 2, reason: "no node fits (1 short of cpu)" },
      ]);
    }
  });

  test("every kind: a system workload on each node that qualifies (none moved when one dies), a batch's runs at once", () => {
    const report = simulate(
      scenario({
        fleet: [
          { name: "edge", count: 3, cpu_millis: 1000, memory_mb: 1024, labels: { role: "edge" } },
          { name: "core", count: 1, cpu_millis: 1000, memory_mb: 1024 },
        ],
        workloads: [
          { name: "logs", kind: "system", node_selector: { role: "edge" }, resources: { cpu_millis: 100 } },
          { name: "etl", kind: "batch", completions: 5, parallelism: 2, resources: { cpu_millis: 300 } },
        ],
        failures: [{ at: "10s", kill: { nodes: ["edge-2"] } }],
      }),
    );
    for (const r of report.strategies) {
      // 2 live edge nodes with a system copy each, 2 batch runs at once.
      expect([r.desired, r.placed, r.unschedulable]).toEqual([4, 4, 0]);
      const logs = r.nodes.flatMap((n) => n.instances.filter((i) => i.startsWith("logs-")).map((i) => `${n.name}:${i}`));
      expect(logs.map((l) => l.split(":")[0])).toEqual(["edge-0", "edge-1"]);
    }
  });

  test("rollouts: how long a rollout takes to complete, or to be reverted, under each strategy", () => {
    const report = simulate(
      scenario({
        fleet: [fourNodes],
        workloads: [
          { name: "web", replicas: 4, update: { max_surge: 1, max_unavailable: 0, min_healthy_time: "5s", auto_revert: true, progress_deadline: "60s" } },
          { name: "api", replicas: 2, update: { canary: 1, auto_promote: true, min_healthy_time: "10s" } },
        ],
        failures: [
          { at: "10s", rollout: "web" },
          { at: "10s", rollout: "api" },
          { at: "2m", rollout: "web", fails: true },
        ],
        duration: "5m",
      }),
    );
    for (const r of report.strategies) {
      const [good, canaried, bad] = r.rollouts;
      // One copy at a time, each soaking 5 s: about 4 × 5 s.
      expect(good).toMatchObject({ workload: "web", at: 10_000, outcome: "complete" });
      expect(good!.ms!).toBeGreaterThanOrEqual(20_000);
      expect(good!.ms!).toBeLessThan(40_000);
      // The canary soaks 10 s before auto_promote, then the rest soak too.
      expect(canaried).toMatchObject({ workload: "api", outcome: "complete" });
      expect(canaried!.ms!).toBeGreaterThanOrEqual(20_000);
      // Its new copies never Ready: reverted once the progress deadline passes.
      expect(bad).toMatchObject({ workload: "web", at: 120_000, outcome: "reverted" });
      expect(bad!.ms!).toBeGreaterThanOrEqual(60_000);
      expect(bad!.ms!).toBeLessThan(70_000);
    }
  });

  test("a failure the fleet has not settled from by the end shows as null", () => {
    const report = simulate(scenario({ fleet: [fourNodes], workloads: [{ name: "web" }], failures: [{ at: "1s", kill: { group: "n" } }], duration: "3s" }));
    for (const r of report.strategies) expect(r.convergence[1]).toEqual({ at: 1_000, event: "kill n-0, n-1, n-2, n-3", ms: null });
  });

  test("deterministic: the same scenario gives the same report", () => {
    const doc = {
      fleet: [fourNodes, { name: "big", count: 2, cpu_millis: 16000, memory_mb: 16384, labels: { zone: "b" } }],
      workloads: [
        { name: "web", replicas: 5, resources: { cpu_millis: 700, memory_mb: 300 } },
        { name: "job", count: 3, replicas: 2, resources: { cpu_millis: 3000 }, node_selector: { zone: "b" } },
      ],
      failures: [
        { at: "3s", kill: { group: "big", count: 1 } },
        { at: "3s", crash: "web-1" },
        { at: "12s", restore: { group: "big" } },
      ],
    };
    expect(JSON.stringify(simulate(scenario(doc)))).toBe(JSON.stringify(simulate(scenario(structuredClone(doc)))));
  });
});

describe("simulate: a workload's placement rules", () => {
  const zones = [
    { name: "a", count: 2, cpu_millis: 4000, memory_mb: 4096, labels: { zone: "a" } },
    { name: "b", count: 1, cpu_millis: 1000, memory_mb: 4096, labels: { zone: "b" } },
  ];

  test("binpack under maxPerNode 1 still puts each copy on its own node; a soft zone spread given up for room is reported per strategy", () => {
    const report = simulate(
      scenario({
        fleet: zones,
        workloads: [
          { name: "db", replicas: 3, placement: { max_per_node: 1 } },
          { name: "web", replicas: 6, resources: { cpu_millis: 500, memory_mb: 64 }, placement: { spread: [{ label: "zone" }], affinity: [{ label: "zone", value: "b", weight: 10 }] } },
        ],
      }),
    );
    for (const strategy of ["spread", "binpack"]) {
      const r = of(report.strategies, strategy);
      const dbNodes = r.nodes.filter((n) => n.instances.some((i) => i.startsWith("db-"))).map((n) => n.name);
      expect(dbNodes).toEqual(["a-0", "a-1", "b-0"]);
      // b-0 has 1000m: db-? (100m) and one web copy (500m); the rest of web goes to zone a.
      expect(r.violations).toEqual([
        { workload: "web", rule: "spread zone", detail: "a 5, b 1 (want a 3, b 3)" },
        { workload: "web", rule: "affinity zone=b", detail: "5 of 6 copies elsewhere" },
      ]);
    }
  });

  test("a hard spread's copy beyond its zone's share waits, unschedulable with the reason", () => {
    const half = [
      { value: "a", percent: 50 },
      { value: "b", percent: 50 },
    ];
    const report = simulate(
      scenario({
        fleet: zones,
        workloads: [{ name: "web", replicas: 4, resources: { cpu_millis: 600, memory_mb: 64 }, placement: { spread: [{ label: "zone", targets: half, when_unsatisfiable: "wait" }] } }],
      }),
    );
    const r = of(report.strategies, "spread");
    expect(r.pending).toEqual([{ workload: "web", replicas: 1, reason: "no node fits (2 zone=a holds 2 copies of web, its share (50%) (spread, wait), 1 short of cpu)" }]);
    expect(r.violations).toEqual([]);
  });

  test("placement in a scenario is checked as a manifest's is", () => {
    const r = parseScenario({ fleet: zones, workloads: [{ name: "web", placement: { max_per_node: -1, spread: [{ label: "zone", when_unsatisfiable: "never" }], affinity: [{ label: "zone", value: "a", weight: 200 }], bogus: 1 } }] });
    expect("problems" in r && r.problems.map(describeRejection)).toEqual([
      "workloads[0].placement.bogus: expected one of the fields max_per_node, spread, affinity (unknown field)",
      "workloads[0].placement.max_per_node: expected a non-negative integer, got -1",
      "workloads[0].placement.spread[0].when_unsatisfiable: expected schedule or wait, got \"never\"",
      "workloads[0].placement.affinity[0].weight: expected from -100 to 100 (0: the default 50), got 200",
    ]);
  });
});
