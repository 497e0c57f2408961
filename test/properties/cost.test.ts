/**
 * Properties of cost runs (#21) over random pools and demand (fast-check, fixed printed seed).
 * Each names the invariant it proves by its number in ARCHITECTURE.md.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { simulateCost } from "../../src/sim/cost-run.js";
import { type CostScenario, parseCostScenario } from "../../src/sim/cost-scenario.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261127);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 100);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);
const params = { seed: SEED, numRuns: RUNS, includeErrorInReport: true };

const seconds = (s: number) => `${s}s`;

const poolArb = fc.record({
  count: fc.integer({ min: 1, max: 6 }),
  cpu: fc.integer({ min: 1, max: 8 }).map((c) => c * 1000),
  price: fc.integer({ min: 0, max: 500 }).map((p) => p / 100),
  boot: fc.integer({ min: 1, max: 600 }),
  start: fc.integer({ min: 1, max: 120 }),
  idle: fc.integer({ min: 1, max: 1800 }),
  interruptions: fc.integer({ min: 0, max: 300 }).map((r) => r / 100),
});
const copyCpuArb = fc.integer({ min: 1, max: 4 }).map((c) => c * 500);

/** A pool every lifecycle applies to; spot at a third of the price, stopped at a tenth. */
function pool(p: { count: number; cpu: number; price: number; boot: number; start: number; idle: number; interruptions: number }, spotRate = p.interruptions) {
  return { name: "gp", count: p.count, cpu_millis: p.cpu, memory_mb: 65_536, price_per_hour: p.price, boot: seconds(p.boot), stoppable: true, start: seconds(p.start), stopped_price_per_hour: p.price / 10, spot_price_per_hour: p.price / 3, spot_interruptions_per_hour: spotRate, idle_release: seconds(p.idle) };
}

function parse(doc: unknown): CostScenario {
  const r = parseCostScenario(doc);
  if ("problems" in r) throw new Error(JSON.stringify(r.problems));
  return r.scenario;
}

test("invariant 19: cost is never negative and never falls over time, whatever the demand and interruptions", () => {
  const stepArb = fc.record({ at: fc.integer({ min: 0, max: 6 * 3600 }), replicas: fc.integer({ min: 0, max: 40 }) });
  fc.assert(
    fc.property(poolArb.chain((p) => fc.tuple(fc.constant(p), copyCpuArb.filter((cpu) => cpu <= p.cpu))), fc.array(stepArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 1000 }), ([p, cpu], steps, seed) => {
      const report = simulateCost(parse({ pools: [pool(p)], demand: [{ workload: "web", resources: { cpu_millis: cpu, memory_mb: 64 }, series: steps.map((s) => ({ at: seconds(s.at), replicas: s.replicas })) }], duration: "6h", seed }));
      for (const r of report.strategies) {
        expect(r.cost).toBeGreaterThanOrEqual(0);
        r.samples.forEach((s, i) => {
          expect(s.cost).toBeGreaterThanOrEqual(i === 0 ? 0 : r.samples[i - 1]!.cost);
          if (i > 0) expect(s.at).toBeGreaterThanOrEqual(r.samples[i - 1]!.at);
        });
        expect(r.samples.at(-1)!.cost).toBeCloseTo(r.cost, 3);
      }
    }),
    params,
  );
});

/** Demand that fits the pool: at most what its nodes hold. */
const fittingArb = poolArb.chain((p) => copyCpuArb.filter((cpu) => cpu <= p.cpu).chain((cpu) => fc.record({ p: fc.constant(p), cpu: fc.constant(cpu), replicas: fc.integer({ min: 1, max: p.count * Math.floor(p.cpu / cpu) }) })));

test("invariant 20: an always-on pool never waits for a boot: demand within its nodes runs at once, however it moves", () => {
  fc.assert(
    fc.property(fittingArb, fc.array(fc.record({ at: fc.integer({ min: 1, max: 6 * 3600 }), share: fc.integer({ min: 0, max: 100 }) }), { maxLength: 5 }), ({ p, cpu, replicas }, steps) => {
      const series = [{ at: "0s", replicas }, ...steps.map((s) => ({ at: seconds(s.at), replicas: Math.floor((replicas * s.share) / 100) }))];
      const report = simulateCost(parse({ pools: [pool(p)], demand: [{ workload: "web", resources: { cpu_millis: cpu, memory_mb: 64 }, series }], duration: "6h", strategies: [{ name: "on", pools: { gp: "always-on" } }] }));
      const [on] = report.strategies;
      expect(on!.boots).toBe(0);
      expect(on!.waitMs.max).toBe(0);
      expect(on!.unschedulableReplicaMinutes).toBe(0);
    }),
    params,
  );
});

test("invariant 21: with demand constant and within capacity, every strategy converges to zero wait after the first boot", () => {
  fc.assert(
    fc.property(fittingArb, ({ p, cpu, replicas }) => {
      // No interruptions: a spot pool then behaves as scale-to-fit at its price.
      const report = simulateCost(parse({ pools: [pool(p, 0)], demand: [{ workload: "web", resources: { cpu_millis: cpu, memory_mb: 64 }, series: [{ at: "0s", replicas }] }], duration: "6h" }));
      for (const r of report.strategies) {
        const first = r.name === "always-on" ? 0 : r.name === "stopped-pool" ? p.start * 1000 : p.boot * 1000;
        // Each copy waits once, at most the first boot (hybrid's baseline copies not at all), and never again.
        expect(r.waitMs.copies).toBe(replicas);
        expect(r.waitMs.max).toBeLessThanOrEqual(first);
        expect(r.unschedulableReplicaMinutes).toBeLessThanOrEqual(+((replicas * first) / 60_000).toFixed(1));
        expect(r.interruptions).toBe(0);
        // After the first boot nothing more boots: the nodes the demand needs stay up.
        const settled = r.samples.filter((s) => s.at >= first);
        expect(new Set(settled.map((s) => s.capacityCpu)).size).toBe(1);
      }
    }),
    params,
  );
});
