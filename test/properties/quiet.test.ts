/**
 * Invariant 41 (#33): a pass that leaves out the writer's quiet workloads decides exactly what a
 * pass over every workload decides. Two simulated fleets take the same random operations, one
 * keeping the quiet set as the writer does, one planning everything (as replay and what-if do):
 * every event, in order, and every plan are the same; and the writer's next wakeup, looked for
 * among the awake workloads, is the one found among all.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { DEFAULT_POLICY, nextWakeup, type Plan } from "../../src/core/reconcile/reconcile.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "../core/fixtures.js";
import { anyWorkloadArb, applyCommand, fleetArb, opArb, perform } from "./random-ops.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

/**
 * A plan with its held-back reasons in one order: a pass says a quiet workload's again before
 * those of the workloads it plans, where a full pass says them in name order. Nothing reads
 * their order (the earliest `until` wakes the writer; views look them up by workload).
 */
function canonical(p: Plan): Plan {
  return { ...p, skip: [...p.skip].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
}

describe("quiet workloads (#33)", () => {
  test("41: leaving out quiet workloads decides every event and plan a full pass decides", () => {
    let leftOut = 0;
    fc.assert(
      fc.property(fleetArb, fc.array(anyWorkloadArb, { minLength: 1, maxLength: 4 }), fc.array(opArb, { maxLength: 30 }), (nodes, workloads, ops) => {
        const quiet = new SimulatedFleet(DEFAULT_POLICY);
        const full = new SimulatedFleet(DEFAULT_POLICY);
        full.quiet = undefined;
        let last: Plan | undefined;
        quiet.onTurn = (r) => {
          leftOut += quiet.quiet!.size;
          last = r.plan ?? last;
          // The writer's wakeup looks for periodic batches among the awake workloads only.
          expect(nextWakeup(quiet.state, DEFAULT_POLICY, last, quiet.quiet!.awake)).toBe(nextWakeup(quiet.state, DEFAULT_POLICY, last));
        };
        for (const fleet of [quiet, full]) {
          for (const n of nodes) fleet.connect(n);
          fleet.turn(workloads.map((w, i) => applyCommand(`w${i}`, w)));
          for (const op of ops) perform(fleet, nodes, op);
          fleet.settle();
        }
        expect(quiet.events).toEqual(full.events);
        expect(quiet.plans.map(canonical)).toEqual(full.plans.map(canonical));
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
    // The runs left workloads out: the equivalence was put to the test.
    expect(leftOut).toBeGreaterThan(0);
  });

  test("41: a workload whose copies run but are not Ready, or whose rollout waits on a clock, is planned until it completes", () => {
    const check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp" as const, value: { port: 8080, portName: "" } } };
    const stepArb = fc.oneof(
      fc.record({ op: fc.constant("apply" as const), version: fc.integer({ min: 0, max: 2 }), checked: fc.boolean(), canary: fc.integer({ min: 0, max: 1 }), autoRevert: fc.boolean() }),
      fc.record({ op: fc.constant("fail" as const), failing: fc.boolean() }),
      fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 200, max: 20_000 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(stepArb, { minLength: 1, maxLength: 20 }), (replicas, steps) => {
        const runs = [new SimulatedFleet(DEFAULT_POLICY), new SimulatedFleet(DEFAULT_POLICY)];
        runs[1]!.quiet = undefined;
        for (const fleet of runs) {
          fleet.connect({ name: "node-0", capacity: { cpuMillis: 64_000, memoryMb: 64_000 }, labels: {} });
          for (const step of steps) {
            if (step.op === "advance") fleet.advance(step.ms);
            else if (step.op === "fail") step.failing ? fleet.failingChecks.add("web") : fleet.failingChecks.delete("web");
            else {
              const applied: Command = { type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ args: [`v${step.version}`], replicas, checks: step.checked ? [check] : [], progressDeadline: { seconds: 10, nanos: 0 }, update: { maxSurge: 1, maxUnavailable: 0, waves: [], canary: step.canary, autoRevert: step.autoRevert } }) };
              fleet.turn([applied]);
            }
          }
          fleet.settle();
        }
        expect(runs[0]!.events).toEqual(runs[1]!.events);
        expect(runs[0]!.plans.map(canonical)).toEqual(runs[1]!.plans.map(canonical));
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
