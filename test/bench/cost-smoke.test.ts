/** A small run of the cost benchmark (#21), so it cannot rot. No timing is asserted. */
import { expect, test } from "bun:test";
import { costScenario, runCost } from "./cost.js";

test("cost benchmark, smoke size: every strategy runs a day of 40 nodes, and the cheap ones wait for boots", () => {
  const { report, byStrategy } = runCost(costScenario(40, 1));
  expect(Object.keys(byStrategy)).toEqual(["always-on", "scale-to-fit", "stopped-pool", "spot", "hybrid"]);
  expect(report.peakReplicas).toBe(160);
  const of = (name: string) => report.strategies.find((s) => s.name === name)!;
  // 40 nodes × 0.20 × 24 h.
  expect(of("always-on").cost).toBeCloseTo(192, 6);
  expect(of("always-on").waitMs.max).toBe(0);
  expect(of("scale-to-fit").cost).toBeLessThan(of("always-on").cost);
  expect(of("scale-to-fit").waitMs.p95).toBe(120_000);
});
