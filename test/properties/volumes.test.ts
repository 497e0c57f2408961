/**
 * Invariant 16 of ARCHITECTURE.md over random fleets and specs with host volumes (fast-check,
 * fixed printed seed): a copy is only ever placed on a node that offers, at that moment, every
 * host volume its spec names, writable unless the spec mounts it read_only; a copy that waits
 * does so with the volume reason while no Ready node could take it; folding the log reproduces
 * every node's host volumes and every placement (8). Agents restart declaring other volumes on
 * the way; nodes have room to spare, so volumes (or a node that is down) are the only reasons to wait.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { replay } from "../../src/core/events/evolve.js";
import type { Command } from "../../src/core/decide/commands.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { HostVolume, HostVolumeNeed } from "../../src/core/model/volumes.js";
import { spec } from "../core/fixtures.js";
import { acceptedTurn, commonOp, opsArb, roomyNode } from "./random-fleet.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261128);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const NAMES = ["data", "logs", "cache"];
/** What one agent declares: a subset of NAMES, each read-only or not. */
const declaredArb = fc.subarray(NAMES).chain((names) => fc.tuple(...names.map((name) => fc.boolean().map((readOnly): HostVolume => ({ name, path: `/srv/${name}`, readOnly })))));
const fleetArb = fc.array(declaredArb, { minLength: 1, maxLength: 4 }).map((all) => all.map((volumes, i) => roomyNode(i, { volumes })));
/** What one spec names: a subset of NAMES, each mounted read-only or not. */
const needsArb = fc.subarray(NAMES).chain((names) => fc.tuple(...names.map((name) => fc.boolean().map((readOnly): HostVolumeNeed => ({ name, readOnly })))));
const opArb = opsArb(
  { arbitrary: fc.record({ op: fc.constant("apply" as const), w: fc.integer({ min: 0, max: 2 }), replicas: fc.integer({ min: 0, max: 4 }), needs: needsArb }), weight: 3 },
  // The node's agent restarts declaring other host volumes.
  fc.record({ op: fc.constant("redeclare" as const), n: fc.integer({ min: 0, max: 3 }), volumes: declaredArb }),
);

const PENDING_REASON = /^no node fits \((\d+ (lacks host volume \w+|host volume \w+ is read-only|not Ready)(, |\)$))+/;

/** Whether `offered` gives a copy every volume it needs, writable where it writes: the oracle, written apart from placement's. */
function satisfies(offered: readonly HostVolume[], needs: readonly HostVolumeNeed[]): boolean {
  return needs.every((n) => offered.some((o) => o.name === n.name && (n.readOnly || !o.readOnly)));
}

describe("host volumes over random fleets and specs", () => {
  let placements = 0;
  let waited = 0;
  test("16: a copy is placed only where every host volume it names is offered (writable when it writes), else waits with the volume reason; 8: replay reproduces nodes' volumes and placements", () => {
    fc.assert(
      fc.property(fleetArb, fc.array(opArb, { maxLength: 25 }), (nodes, ops) => {
        const fleet = new SimulatedFleet();
        /** What each workload generation names: `w0@2` → needs. */
        const needsOf = new Map<string, HostVolumeNeed[]>();
        fleet.onTurn = (result, f) => {
          for (const e of result.events) {
            // A generation's needs, read from the spec as applied (events come in order: before its placements).
            if (e.type === "WorkloadApplied") needsOf.set(`${e.workload.name}@${e.workload.generation}`, (e.workload.spec.volumes ?? []).map((v) => ({ name: v.name, readOnly: v.readOnly })));
            if (e.type !== "InstanceTransitioned" || e.event.type !== "place") continue;
            const inst = f.state.instances.get(e.id)!;
            const needs = needsOf.get(`${inst.workload}@${inst.generation}`);
            // Commands are decided before the turn's reconcile: the node is as it was when the copy was placed.
            expect(needs).toBeDefined();
            expect(satisfies(f.state.nodes.get(e.event.node)!.volumes, needs!)).toBe(true);
            placements++;
          }
        };
        for (const n of nodes) fleet.connect(n);
        fleet.turn();
        const declared = nodes.map((n) => n.volumes!);
        for (const o of ops) {
          let commands: Command[] | "skip" = [];
          if (o.op === "apply") {
            const name = `w${o.w}`;
            if (fleet.state.workloads.get(name)?.deleting) continue;
            const volumes = o.needs.map((n) => ({ name: n.name, type: 0, mountPath: "", readOnly: n.readOnly, source: "", sizeMb: 0 }));
            commands = [{ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas: o.replicas, volumes }) }];
          } else if (o.op === "redeclare") {
            if (o.n >= nodes.length) continue;
            declared[o.n] = o.volumes;
            fleet.connect({ ...nodes[o.n]!, volumes: o.volumes });
          } else commands = commonOp(fleet, o, nodes.length, (n) => ({ ...nodes[n]!, volumes: declared[n]! }));
          if (commands === "skip") continue;
          acceptedTurn(fleet, commands);
          for (const inst of fleet.state.instances.values()) {
            if (inst.state !== "pending" || inst.desired !== "run" || inst.reason === "") continue;
            expect(inst.reason).toMatch(PENDING_REASON);
            if (/host volume/.test(inst.reason)) waited++;
            // No node that could take it is Ready: it waits for a reason that holds.
            const needs = needsOf.get(`${inst.workload}@${inst.generation}`)!;
            for (const n of fleet.state.nodes.values()) if (n.connected && n.health === "ready" && n.schedulable) expect(satisfies(n.volumes, needs)).toBe(false);
          }
        }
        const again = replay(fleet.events);
        expect([...again.nodes.values()].map((n) => [n.name, n.volumes])).toEqual([...fleet.state.nodes.values()].map((n) => [n.name, n.volumes]));
        expect([...again.instances.values()].map((i) => [i.id, i.node])).toEqual([...fleet.state.instances.values()].map((i) => [i.id, i.node]));
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
    // Not vacuous: copies were placed, and some waited for their volumes.
    console.log(`${placements} placements checked, ${waited} waits for volumes seen`);
    expect(placements).toBeGreaterThan(RUNS);
    expect(waited).toBeGreaterThan(0);
  });
});
