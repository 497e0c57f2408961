/** `tessera sim` through the compiled binary: the example scenario as a table and as JSON, and a bad file. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const EXAMPLE = join(import.meta.dir, "..", "..", "examples", "sim-fleet.yaml");
const h = new Harness();
beforeAll(requireBinary);
afterAll(() => h.stop());

test("the example scenario as a ranked table, one row per strategy, and the winner", async () => {
  const res = await h.run(["sim", "-f", EXAMPLE]);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(0);
  const lines = res.stdout.trimEnd().split("\n");
  expect(lines[0]).toBe("6 nodes, 17 replicas, 6m00s simulated");
  expect(lines[1]).toMatch(/^RANK\s+STRATEGY\s+PLACED\s+UNSCHEDULABLE\s+RESCHEDULES\s+START\s+RECOVERY\s+NODES USED\s+EMPTY\s+CPU MEAN\/MAX\s+MEMORY MEAN\/MAX$/);
  expect(lines[2]).toMatch(/^1\s+binpack\s+17\/17\s+0\s/);
  expect(lines[3]).toMatch(/^2\s+spread\s+16\/17\s+1\s/);
  expect(lines).toContain("spread: db ×1 pending: no node fits (4 lacks label zone=b, 2 short of cpu)");
  // web's rollout completes under its update strategy; the failing one is reverted at the deadline.
  for (const strategy of ["binpack", "spread"]) {
    expect(lines).toContain(`${strategy}: rollout of web at 2m30s: complete in 35s`);
    expect(lines).toContain(`${strategy}: rollout of web at 4m00s: reverted in 1m01s`);
  }
  expect(lines.at(-1)).toBe("binpack ranks first on unschedulable (0 vs 1 for spread)");
});

test("-o json prints the full report, and --strategy limits it", async () => {
  const res = await h.run(["sim", "-f", EXAMPLE, "-o", "json", "--strategy", "spread"]);
  expect(res.code).toBe(0);
  const report = JSON.parse(res.stdout);
  expect(report.strategies).toHaveLength(1);
  const [spread] = report.strategies;
  expect(spread).toMatchObject({ strategy: "spread", rank: 1, desired: 17, placed: 16, unschedulable: 1 });
  expect(spread.convergence.map((c: { event: string }) => c.event)).toEqual(["start", expect.stringMatching(/^kill small-\d$/), expect.stringMatching(/^restore small-\d$/), "crash web-0", "rollout web", "rollout web (failing)"]);
  expect(spread.rollouts).toEqual([
    { workload: "web", at: 150_000, outcome: "complete", ms: 35_000 },
    { workload: "web", at: 240_000, outcome: "reverted", ms: 61_000 },
  ]);
  expect(spread.nodes).toHaveLength(6);
  expect(report.summary).toBe("only spread simulated");
});

test("a bad scenario exits 2 naming the field; so does an unknown strategy", async () => {
  const file = join(h.dir, "bad.yaml");
  writeFileSync(file, "fleet:\n  - {name: small, count: -3, cpu_millis: 4000, memory_mb: 8192}\nworkloads: [{name: web}]\n");
  const bad = await h.run(["sim", "-f", file]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toBe(`error: ${file}: fleet[0].count: expected a positive integer, got -3\n`);
  expect(bad.stdout).toBe("");
  const strategy = await h.run(["sim", "-f", EXAMPLE, "--strategy", "random"]);
  expect(strategy.code).toBe(2);
  expect(strategy.stderr).toBe('error: --strategy: expected spread or binpack, got "random"\n');
});
