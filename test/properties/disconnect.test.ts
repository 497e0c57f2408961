/**
 * The disconnect block over random histories of nodes lost and returning (fast-check, fixed
 * printed seed): invariant 37 of ARCHITECTURE.md, checked after every writer turn.
 * - replace: false: never two copies of the singleton run at once, counting what every agent
 *   holds, cut off or not (the truth, not the control plane's view); and once every node is
 *   back and the fleet settles, exactly one runs.
 * - lost_after: no copy is lost before its node has been silent that long.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { heardFrom } from "../../src/core/model/node-health.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { SPEC_DEFAULTS } from "../../src/core/model/spec.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "../core/fixtures.js";
import { roomyNode } from "./random-fleet.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 150);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);
const params = { seed: SEED, numRuns: RUNS, includeErrorInReport: true };

const NODES = 3;

const opArb = fc.oneof(
  fc.record({ op: fc.constant("kill" as const), n: fc.nat(NODES - 1) }),
  fc.record({ op: fc.constant("revive" as const), n: fc.nat(NODES - 1) }),
  fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 200, max: 20_000 }) }),
  fc.record({ op: fc.constant("crash" as const), w: fc.constantFrom("solo", "kept") }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function applyCommand(name: string, disconnect: NonNullable<ReturnType<typeof spec>["disconnect"]>, replicas: number): Command {
  return { type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas, disconnect }) };
}

/** Copies of `workload` its agents hold, cut off or not: what really runs. */
function running(fleet: SimulatedFleet, workload: string): string[] {
  return [...fleet.held.values()].flatMap((held) => [...held.keys()].filter((id) => id.startsWith(`${workload}-`)));
}

function perform(fleet: SimulatedFleet, o: Op): void {
  if (o.op === "kill") fleet.kill(`node-${o.n}`);
  else if (o.op === "revive" && fleet.dead.has(`node-${o.n}`)) fleet.connect(roomyNode(o.n));
  else if (o.op === "advance") fleet.advance(o.ms);
  else if (o.op === "crash") for (const id of running(fleet, o.w)) fleet.crash(id);
  fleet.turn();
}

test("37: replace: false never runs the singleton twice, and lost_after loses no copy before its node has been silent that long", () => {
  fc.assert(
    fc.property(fc.integer({ min: DEFAULT_POLICY.offlineAfterMs + 1, max: 40_000 }), fc.array(opArb, { maxLength: 30 }), (lostAfterMs, ops) => {
      const fleet = new SimulatedFleet(DEFAULT_POLICY);
      const early: string[] = [];
      fleet.onTurn = (result, f) => {
        expect(running(f, "solo").length).toBeLessThanOrEqual(1);
        for (const e of result.events) {
          if (e.type !== "InstanceTransitioned" || e.event.type !== "lose" || !e.id.startsWith("kept-")) continue;
          const node = f.state.nodes.get(f.state.instances.get(e.id)!.node!)!;
          const silent = e.at - heardFrom(node, f.state.listeningSince, DEFAULT_POLICY);
          if (silent <= lostAfterMs) early.push(`${e.id} lost after ${silent} ms of silence`);
        }
      };
      for (let i = 0; i < NODES; i++) fleet.connect(roomyNode(i));
      fleet.turn([applyCommand("solo", { replace: false }, 1), applyCommand("kept", { lostAfter: { seconds: Math.floor(lostAfterMs / 1000), nanos: (lostAfterMs % 1000) * 1e6 } }, 2)]);
      fleet.settle();
      for (const o of ops) perform(fleet, o);
      expect(early).toEqual([]);
      for (let i = 0; i < NODES; i++) if (fleet.dead.has(`node-${i}`)) fleet.connect(roomyNode(i));
      // Past any restart backoff a crash left.
      fleet.advance(SPEC_DEFAULTS.maxBackoffMs);
      fleet.settle();
      expect(running(fleet, "solo")).toHaveLength(1);
      expect(running(fleet, "kept")).toHaveLength(2);
    }),
    params,
  );
});

test("without replace: false the same history runs two copies at once (the property above can fail)", () => {
  const fleet = new SimulatedFleet(DEFAULT_POLICY);
  for (let i = 0; i < NODES; i++) fleet.connect(roomyNode(i));
  fleet.turn([{ type: "ApplyWorkload", name: "solo", labels: {}, spec: spec({ replicas: 1 }) }]);
  fleet.settle();
  const node = fleet.state.instances.values().next().value!.node!;
  fleet.kill(node);
  fleet.advance(DEFAULT_POLICY.offlineAfterMs + 2_000);
  fleet.settle();
  expect(running(fleet, "solo")).toHaveLength(2);
});
