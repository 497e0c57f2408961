/**
 * Property 13 (ARCHITECTURE.md), its what-if half: a what-if differs from the log only where
 * the moved input reaches. The oracle is the fleet's shape: `lonely` runs only in zone a, every
 * other workload only in zone b, and a zone-a node goes silent; moving when it was declared
 * Offline may change what happens to `lonely`, and must change nothing of the others, however
 * the instance ids of the re-run shift. fast-check, fixed seed printed.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { isVolatile } from "../../src/core/events/event-facts.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { compareReruns, recordedTurns, rerunInputs, shiftInput } from "../../src/core/events/what-if.js";
import { CAPACITY, specWithoutSoak as spec } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261122);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 100);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

/** What operators and copies do to zone b's workloads meanwhile. */
const opArb = fc.oneof(
  fc.record({ op: fc.constant("apply" as const), w: fc.integer({ min: 0, max: 2 }), version: fc.integer({ min: 0, max: 2 }), replicas: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constantFrom("delete" as const, "restart" as const), w: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant("crash" as const), pick: fc.nat() }),
  fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 500, max: 6_000 }) }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function perform(fleet: SimulatedFleet, op: Op): void {
  const zoneB = (replicas: number, version: number) => spec({ args: [`v${version}`], replicas, nodeSelector: { zone: "b" } });
  const commands: Record<Op["op"], () => Command[]> = {
    apply: () => (op.op === "apply" ? [{ type: "ApplyWorkload", name: `b${op.w}`, labels: {}, spec: zoneB(op.replicas, op.version) }] : []),
    delete: () => (op.op === "delete" && fleet.state.workloads.has(`b${op.w}`) ? [{ type: "DeleteWorkload", name: `b${op.w}` }] : []),
    restart: () => (op.op === "restart" && fleet.state.workloads.get(`b${op.w}`)?.deleting === false ? [{ type: "RestartWorkload", name: `b${op.w}` }] : []),
    crash: () => {
      const running = [...fleet.state.instances.values()].filter((i) => i.workload !== "lonely" && i.state === "running");
      if (op.op === "crash" && running.length > 0) fleet.crash(running[op.pick % running.length]!.id);
      return [];
    },
    advance: () => {
      if (op.op === "advance") fleet.advance(op.ms);
      return [];
    },
  };
  fleet.turn(commands[op.op]());
  fleet.settle();
}

test("13: a what-if differs from the log only where the moved input reaches", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 8 }),
      fc.array(opArb, { maxLength: 12 }),
      fc.integer({ min: -4, max: 40 }).map((s) => s * 1_000),
      (before, after, shiftMs) => {
        const fleet = new SimulatedFleet(DEFAULT_POLICY);
        for (const [name, zone] of [["a-0", "a"], ["a-1", "a"], ["b-0", "b"], ["b-1", "b"]] as const) fleet.connect({ name, capacity: CAPACITY, labels: { zone } });
        fleet.turn([{ type: "ApplyWorkload", name: "lonely", labels: {}, spec: spec({ replicas: 3, nodeSelector: { zone: "a" } }) }]);
        fleet.settle();
        for (const op of before) perform(fleet, op);
        fleet.kill("a-1");
        for (const op of after) perform(fleet, op);
        fleet.advance(DEFAULT_POLICY.offlineAfterMs + 2_000);
        fleet.settle();

        const log = fleet.events.filter((e) => !isVolatile(e)).map((event, i) => ({ seq: i + 1, event }));
        const offline = log.find((l) => l.event.type === "NodeHealthChanged" && l.event.to === "offline");
        expect(offline).toBeDefined();
        const turns = recordedTurns(log);
        const whatIf = rerunInputs(shiftInput(turns, offline!.seq, shiftMs), DEFAULT_POLICY);
        const { added, gone } = compareReruns(rerunInputs(turns, DEFAULT_POLICY), whatIf);
        const others = (lines: typeof added) => lines.filter((l) => !l.what.startsWith("lonely"));
        expect(others(added)).toEqual([]);
        expect(others(gone)).toEqual([]);
        // Every report about zone b's copies still applies, to the same copy.
        const skipped = whatIf.turns.flatMap((t) => t.skipped.map((s) => s.event));
        expect(skipped.filter((e) => e.type !== "NodeHealthChanged" && !("id" in e && e.id.startsWith("lonely-")))).toEqual([]);
      },
    ),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
