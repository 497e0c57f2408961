/**
 * A workload's own placement rules over random fleets and histories (fast-check, fixed printed
 * seed), checked after every writer turn:
 * - maxPerNode: no node ever holds more copies of the workload than the cap (copies still
 *   stopping count), whatever happens — scaling, rollouts with surge, drains, crashes, nodes
 *   lost and joining — and planning again after a turn changes nothing;
 * - a hard spread (whenUnsatisfiable: wait, even split): as copies are added, the zones that
 *   still have room never differ by more than one copy.
 */
import { describe, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { holdsNode } from "../../src/core/model/cluster-status.js";
import { isEmptyPlan, plan } from "../../src/core/reconcile/reconcile.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { Placement } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 150);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const COPY = { cpuMillis: 100, memoryMb: 64 };

/** Copies of `workload` holding each node (placed or stopping, not yet gone). */
function held(f: SimulatedFleet, workload: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of f.state.instances.values()) if (i.workload === workload && i.node !== null && holdsNode(i)) out.set(i.node, (out.get(i.node) ?? 0) + 1);
  return out;
}

const opArb = fc.oneof(
  fc.record({ op: fc.constant("scale" as const), replicas: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ op: fc.constant("rollout" as const) }),
  fc.record({ op: fc.constant("drain" as const), node: fc.nat(7) }),
  fc.record({ op: fc.constant("uncordon" as const), node: fc.nat(7) }),
  fc.record({ op: fc.constant("kill" as const), node: fc.nat(7) }),
  fc.record({ op: fc.constant("join" as const), node: fc.nat(7) }),
  fc.record({ op: fc.constant("crash" as const), copy: fc.nat(7) }),
  fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 200, max: 40_000 }) }),
);

describe("placement rules", () => {
  test("maxPerNode is never exceeded on any node, by any sequence", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 2 }),
        fc.constantFrom("spread" as const, "binpack" as const),
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        (cap, nodes, maxSurge, maxUnavailable, strategy, ops) => {
          const f = new SimulatedFleet({ ...new SimulatedFleet().policy, placement: strategy });
          const node = (i: number) => ({ name: `n-${i}`, capacity: { cpuMillis: 4_000, memoryMb: 4_096 }, labels: {} });
          for (let i = 0; i < nodes; i++) f.connect(node(i));
          let version = 0;
          let replicas = 3;
          const placement: Placement = { maxPerNode: cap, spread: [], affinity: [] };
          const apply = (): Command => ({
            type: "ApplyWorkload",
            name: "db",
            labels: {},
            spec: spec({ args: [`v${version}`], replicas, resources: COPY, placement, update: { maxSurge, maxUnavailable, minHealthyTime: { seconds: 1, nanos: 0 }, waves: [] } }),
          });
          f.onTurn = (result, fleet) => {
            for (const [n, count] of held(fleet, "db")) if (count > cap) throw new Error(`${n} holds ${count} copies of db, over maxPerNode ${cap}`);
            // Planning again right after executing a plan changes nothing (invariant 1), under the rules too.
            const again = plan(fleet.state, fleet.now, fleet.policy);
            if (result.plan && !isEmptyPlan(again)) throw new Error(`planning again is not empty at ${fleet.now}: ${JSON.stringify(again)}`);
          };
          f.turn([apply()]);
          for (const o of ops) {
            if (o.op === "scale") {
              replicas = o.replicas;
              f.turn([apply()]);
            } else if (o.op === "rollout") {
              version++;
              f.turn([apply()]);
            } else if (o.op === "drain" || o.op === "uncordon") {
              if (f.state.nodes.has(`n-${o.node}`)) f.turn([{ type: o.op === "drain" ? "DrainNode" : "UncordonNode", node: `n-${o.node}` }]);
            } else if (o.op === "kill") f.kill(`n-${o.node}`);
            else if (o.op === "join") f.connect(node(o.node));
            else if (o.op === "crash") {
              const running = [...f.state.instances.values()].filter((i) => i.workload === "db" && i.state === "running");
              if (running.length > 0) f.crash(running[o.copy % running.length]!.id);
            } else f.advance(o.ms);
            f.turn(f.heartbeats());
          }
          f.advance(30_000);
        },
      ),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });

  test("a hard spread never differs by more than one copy between zones that have room", () => {
    fc.assert(
      fc.property(
        // Per zone, its nodes' room in copies (a node of 1 fills at once).
        fc.array(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom("spread" as const, "binpack" as const),
        (zones, growth, strategy) => {
          const f = new SimulatedFleet({ ...new SimulatedFleet().policy, placement: strategy });
          const zoneOf = new Map<string, string>();
          const room = new Map<string, number>();
          zones.forEach((sizes, z) =>
            sizes.forEach((copies, k) => {
              const name = `z${z}-${k}`;
              zoneOf.set(name, `z${z}`);
              room.set(name, copies);
              f.connect({ name, capacity: { cpuMillis: copies * COPY.cpuMillis, memoryMb: 4_096 }, labels: { zone: `z${z}` } });
            }),
          );
          const placement: Placement = { maxPerNode: 0, spread: [{ label: "zone", weight: 0, targets: [], whenUnsatisfiable: 2 }], affinity: [] };
          f.onTurn = (_, fleet) => {
            const copies = held(fleet, "web");
            const perZone = new Map<string, number>();
            const roomy = new Set<string>();
            for (const [n, z] of zoneOf) {
              perZone.set(z, (perZone.get(z) ?? 0) + (copies.get(n) ?? 0));
              if ((copies.get(n) ?? 0) < room.get(n)!) roomy.add(z);
            }
            const counts = [...roomy].map((z) => perZone.get(z)!);
            if (counts.length > 0 && Math.max(...counts) - Math.min(...counts) > 1) throw new Error(`zones with room hold ${JSON.stringify(Object.fromEntries([...roomy].map((z) => [z, perZone.get(z)])))} copies`);
          };
          let replicas = 0;
          for (const g of growth) {
            replicas += g;
            f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas, resources: COPY, placement }) }]);
            f.settle();
          }
        },
      ),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
