/**
 * Invariant 26 of ARCHITECTURE.md over random fleets and crash schedules (fast-check, fixed
 * printed seed): a changed spec is never held by an older spec's quarantine. Copies of a spec
 * crash on random nodes at random moments, enough to quarantine it on some; then what runs
 * changes (a new spec, or the workload deleted and created again), while copies of the old spec
 * may still fail. From the change on, no placement of the workload is refused for a
 * quarantine, every replica of the new spec runs, and none is quarantined anywhere.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { quarantinesOf } from "../../src/core/reconcile/gates.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };
const apply = (version: string, replicas: number): Command => ({ type: "ApplyWorkload", name: "svc", labels: {}, spec: spec({ args: [version], replicas }) });

/** Each step: how long time moves (ms), and how many of the old spec's running copies crash first. */
const stepArb = fc.record({ ms: fc.integer({ min: 100, max: 3_000 }), crashes: fc.integer({ min: 0, max: 6 }) });

describe("crash-loop quarantine", () => {
  test("26: a changed spec is never held by an older spec's quarantine", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(stepArb, { minLength: 5, maxLength: 40 }),
        fc.array(stepArb, { maxLength: 5 }),
        fc.constantFrom("new spec", "deleted and created again"),
        (nodes, replicas, before, after, change) => {
          const f = new SimulatedFleet();
          for (let i = 0; i < nodes; i++) f.connect({ name: `node-${i}`, capacity: BIG, labels: {} });
          f.turn([apply("v1", replicas)]);
          /** Copies of generations below this run the old spec (all of them, before the change). */
          let changed = Number.POSITIVE_INFINITY;
          const step = (s: { ms: number; crashes: number }) => {
            const old = [...f.state.instances.values()].filter((i) => i.workload === "svc" && i.state === "running" && i.generation < changed);
            for (const i of old.slice(0, s.crashes)) f.crash(i.id);
            f.now += s.ms;
            f.turn(f.heartbeats());
          };
          for (const s of before) step(s);
          if (change === "deleted and created again") {
            f.turn([{ type: "DeleteWorkload", name: "svc" }]);
            f.settle();
          }
          f.turn([apply("v2", replicas)]);
          changed = f.state.workloads.get("svc")!.generation;
          // From the change on, no placement is refused for a quarantine, whatever the old copies do.
          f.onTurn = (r) => {
            const held = [...(r.plan?.pend ?? []), ...(r.plan?.skip ?? [])].filter((p) => p.workload === "svc" && p.reason.includes("quarantine"));
            if (held.length > 0) throw new Error(`held by a quarantine after the change: ${JSON.stringify(held)}`);
          };
          for (const s of after) step(s);
          // Each old copy goes once its replacement has run for min_healthy_time (10 s).
          f.advance((replicas + 1) * 11_000);
          f.settle();
          expect(quarantinesOf(f.state, "svc", f.now, DEFAULT_POLICY)).toEqual([]);
          const current = [...f.state.instances.values()].filter((i) => i.workload === "svc" && i.desired === "run" && i.generation >= changed);
          expect(current.filter((i) => i.state === "running")).toHaveLength(replicas);
        },
      ),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
