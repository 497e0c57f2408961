/** A small run of the planner benchmark, so it cannot rot. No timing is asserted. */
import { expect, test } from "bun:test";
import { holdsNode } from "../../src/core/model/cluster-status.js";
import { BENCH_RULES, buildFleet, runNearlyFull, runPlanner } from "./planner.js";

test("planner benchmark, smoke size: every workload placed once, no node over capacity, then converged", () => {
  const state = buildFleet(100, 1_000, 1_000_000);
  const run = runPlanner(state, 1_000_000);
  expect(run.placed).toBe(1_000);
  const used = new Map<string, number>();
  for (const i of state.instances.values()) if (i.node && holdsNode(i)) used.set(i.node, (used.get(i.node) ?? 0) + i.resources.cpuMillis);
  for (const [node, cpu] of used) expect(cpu).toBeLessThanOrEqual(state.nodes.get(node)!.capacity.cpuMillis);
  // Spread: 1,000 one-replica workloads over 100 nodes land 10 per node.
  expect(Math.max(...used.values()) / 100).toBeLessThanOrEqual(12);
});

test("planner benchmark, smoke size: on a nearly full fleet most new workloads are placed and the ones that fit nowhere wait", () => {
  const run = runNearlyFull(100, 1_000_000);
  expect(run.allocatedBefore).toBeCloseTo(0.9, 2);
  expect(run.placed + run.pending).toBe(100);
  expect(run.placed).toBeGreaterThan(0);
  // The ones left Pending are what makes placement scan every node and then explain why.
  expect(run.pending).toBeGreaterThan(0);
});

test("planner benchmark, smoke size: with one dynamic port per workload every workload is placed, each copy with its own host port", () => {
  const state = buildFleet(100, 1_000, 1_000_000, 7, 64_000, true);
  const run = runPlanner(state, 1_000_000);
  expect(run.placed).toBe(1_000);
  const held = new Set<string>();
  for (const i of state.instances.values()) {
    expect(i.ports).toHaveLength(1);
    const key = `${i.node}:${i.ports[0]!.hostPort}`;
    expect(held.has(key)).toBe(false);
    held.add(key);
  }
});

test("planner benchmark, smoke size: with a hard zone spread or maxPerNode 1 on every workload every workload is placed", () => {
  for (const rules of Object.values(BENCH_RULES)) {
    const state = buildFleet(100, 1_000, 1_000_000, 7, 64_000, false, rules);
    expect(runPlanner(state, 1_000_000).placed).toBe(1_000);
  }
});
