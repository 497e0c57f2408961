/**
 * Invariant 35 of ARCHITECTURE.md over random fleets and specs (fast-check, fixed printed seed):
 * a process copy whose spec states resources is only ever placed on a node whose agent, when it
 * is placed, enforces limits, allows copies it cannot hold to them, or says nothing of limits;
 * one that waits does so while no Ready node could take it; folding the log reproduces every
 * node's limits and every placement (8). Agents restart with other limits on the way.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { replay } from "../../src/core/events/evolve.js";
import type { NodeLimits, NodeRecord } from "../../src/core/model/cluster-state.js";
import type { Command } from "../../src/core/decide/commands.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "../core/fixtures.js";
import { acceptedTurn, commonOp, opsArb, roomyNode } from "./random-fleet.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

/** What an agent says of limits: enforced, not (allowed or not), or nothing (undefined). */
const limitsArb: fc.Arbitrary<NodeLimits | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant({ enforcedBy: "cgroup v2", notEnforcedReason: "", allowUnenforced: false }),
  fc.record({ enforcedBy: fc.constant(""), notEnforcedReason: fc.constant("no cgroup v1 memory mount"), allowUnenforced: fc.boolean() }),
);
const fleetArb = fc.array(limitsArb, { minLength: 1, maxLength: 4 }).map((all) => all.map((limits, i) => roomyNode(i, limits ? { limits } : {})));
const opArb = opsArb(
  { arbitrary: fc.record({ op: fc.constant("apply" as const), w: fc.integer({ min: 0, max: 2 }), replicas: fc.integer({ min: 0, max: 4 }), states: fc.boolean(), image: fc.boolean() }), weight: 3 },
  // The node's agent restarts saying other things of limits (cgroups gone, --allow-unenforced-limits).
  fc.record({ op: fc.constant("restart" as const), n: fc.integer({ min: 0, max: 3 }), limits: limitsArb }),
);

/** Whether a node may take a copy that states resources: the oracle, written apart from placement's. */
function holds(node: Readonly<NodeRecord>): boolean {
  const l = node.limits;
  return l === undefined || l.enforcedBy !== "" || l.allowUnenforced;
}

describe("limits over random fleets and specs", () => {
  let placements = 0;
  let waited = 0;
  test("35: a process copy stating resources goes only where they hold (or its operator allows otherwise), else waits; 8: replay reproduces nodes' limits and placements", () => {
    fc.assert(
      fc.property(fleetArb, fc.array(opArb, { maxLength: 25 }), (nodes, ops) => {
        const fleet = new SimulatedFleet();
        /** Whether a generation is a process copy stating resources: `w0@2` → true. */
        const limited = new Map<string, boolean>();
        fleet.onTurn = (result, f) => {
          for (const e of result.events) {
            if (e.type === "WorkloadApplied") limited.set(`${e.workload.name}@${e.workload.generation}`, e.workload.spec.image === "" && !!e.workload.spec.resources?.memoryMb);
            if (e.type !== "InstanceTransitioned" || e.event.type !== "place") continue;
            const inst = f.state.instances.get(e.id)!;
            if (!limited.get(`${inst.workload}@${inst.generation}`)) continue;
            expect(holds(f.state.nodes.get(e.event.node)!)).toBe(true);
            placements++;
          }
        };
        const current = nodes.map((n) => n);
        for (const n of nodes) fleet.connect(n);
        fleet.turn();
        for (const o of ops) {
          let commands: Command[] | "skip" = [];
          if (o.op === "apply") {
            const name = `w${o.w}`;
            if (fleet.state.workloads.get(name)?.deleting) continue;
            const resources = o.states ? { resources: { cpuMillis: 0, memoryMb: 64 } } : {};
            commands = [{ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas: o.replicas, image: o.image ? "busybox" : "", ...resources }) }];
          } else if (o.op === "restart") {
            if (o.n >= nodes.length) continue;
            const { limits: _, ...rest } = nodes[o.n]!;
            current[o.n] = { ...rest, ...(o.limits ? { limits: o.limits } : {}) };
            fleet.connect(current[o.n]!);
          } else commands = commonOp(fleet, o, nodes.length, (n) => current[n]!);
          if (commands === "skip") continue;
          acceptedTurn(fleet, commands);
          for (const inst of fleet.state.instances.values()) {
            if (inst.state !== "pending" || inst.desired !== "run" || inst.reason === "") continue;
            if (!limited.get(`${inst.workload}@${inst.generation}`)) continue;
            if (/limits not enforced/.test(inst.reason)) waited++;
            // No node that could take it is Ready: it waits for a reason that holds.
            for (const n of fleet.state.nodes.values()) if (n.connected && n.health === "ready" && n.schedulable) expect(holds(n)).toBe(false);
          }
        }
        const again = replay(fleet.events);
        expect([...again.nodes.values()].map((n) => [n.name, n.limits])).toEqual([...fleet.state.nodes.values()].map((n) => [n.name, n.limits]));
        expect([...again.instances.values()].map((i) => [i.id, i.node])).toEqual([...fleet.state.instances.values()].map((i) => [i.id, i.node]));
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
    // Not vacuous: such copies were placed, and some waited for a node that holds them.
    console.log(`${placements} placements checked, ${waited} waits for limits seen`);
    expect(placements).toBeGreaterThan(RUNS / 2);
    expect(waited).toBeGreaterThan(0);
  });
});
