/**
 * Invariant 14 of ARCHITECTURE.md over random fleets and specs with ports (fast-check, fixed
 * printed seed): no two copies holding a node share a host port and protocol; every placed
 * copy holds its static ports and one free port of its node's range per dynamic request, or
 * waits Pending with the port reason; folding the log reproduces every copy's ports (8).
 * Nodes have room to spare, so ports (or a node that is down) are the only reasons to wait.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { replay } from "../../src/core/events/evolve.js";
import type { Command } from "../../src/core/decide/commands.js";
import { holdsNode } from "../../src/core/model/cluster-status.js";
import { portKey, portRequests } from "../../src/core/model/ports.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "../core/fixtures.js";
import { acceptedTurn, commonOp, opsArb, roomyNode } from "./random-fleet.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261127);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const nodeArb = fc.record({ size: fc.integer({ min: 1, max: 6 }), reserved: fc.subarray([20000, 20002, 8080]) });
const fleetArb = fc.array(nodeArb, { minLength: 1, maxLength: 4 }).map((ns) =>
  ns.map((n, i) => roomyNode(i, { ports: { address: `10.0.0.${i + 1}`, range: { from: 20000, to: 20000 + n.size - 1 }, reserved: n.reserved.map((p) => ({ from: p, to: p })) } })),
);
const protocolArb = fc.constantFrom("", "udp");
const workloadArb = fc.record({
  replicas: fc.integer({ min: 0, max: 4 }),
  // Distinct static host ports per protocol: the same one twice is refused at apply.
  statics: fc.uniqueArray(fc.record({ static: fc.constantFrom(80, 8080, 20001, 20002), protocol: protocolArb }), { maxLength: 2, selector: (p) => `${p.protocol}/${p.static}` }),
  dynamic: fc.array(protocolArb, { maxLength: 2 }),
  version: fc.integer({ min: 0, max: 1 }),
});
const opArb = opsArb(
  fc.record({ op: fc.constant("apply" as const), w: fc.integer({ min: 0, max: 2 }), spec: workloadArb }),
  fc.record({ op: fc.constant("crash" as const), pick: fc.nat() }),
);

const PENDING_REASON = /^no node fits \((\d+ (port \d+(\/udp)? (taken on \S+ by \S+|reserved on \S+)|short of dynamic ports|not Ready)(, |\)$))+/;

function checkPorts(fleet: SimulatedFleet): void {
  const held = new Map<string, string>();
  for (const inst of fleet.state.instances.values()) {
    const w = fleet.state.workloads.get(inst.workload);
    if (inst.state === "pending") {
      if (w && inst.desired === "run" && inst.reason !== "") expect(inst.reason).toMatch(PENDING_REASON);
      continue;
    }
    if (inst.node === null || !holdsNode(inst) || w === undefined) continue;
    const node = fleet.state.nodes.get(inst.node)!;
    for (const p of inst.ports) {
      const key = `${inst.node} ${portKey(p.protocol, p.hostPort)}`;
      expect(held.get(key) ?? inst.id).toBe(inst.id);
      held.set(key, inst.id);
      expect(node.ports.reserved.some((r) => p.hostPort >= r.from && p.hostPort <= r.to)).toBe(false);
    }
    // What the copy holds is what the spec it was created from asked for (a newer spec replaces it, never edits it).
    if (inst.generation === w.generation) {
      const requests = portRequests(w.spec);
      expect(inst.ports.map((p) => p.name)).toEqual(requests.map((r) => r.name));
      requests.forEach((r, k) => {
        const got = inst.ports[k]!;
        expect(got.protocol).toBe(r.protocol);
        if (r.static !== undefined) expect(got.hostPort).toBe(r.static);
        else expect(got.hostPort >= node.ports.range.from && got.hostPort <= node.ports.range.to).toBe(true);
      });
    }
  }
}

describe("ports over random fleets and specs", () => {
  test("14: no two copies on a node share a host port and protocol; statics honoured or Pending with the port reason; 8: replay reproduces the ports", () => {
    fc.assert(
      fc.property(fleetArb, fc.array(opArb, { maxLength: 25 }), (nodes, ops) => {
        const fleet = new SimulatedFleet();
        for (const n of nodes) fleet.connect(n);
        fleet.turn();
        for (const o of ops) {
          let commands: Command[] | "skip" = [];
          if (o.op === "apply") {
            const ports = [...o.spec.statics, ...o.spec.dynamic.map((protocol) => ({ static: undefined, protocol }))].map((p, k) => ({ name: `p${k}`, to: undefined, ...p }));
            const s = spec({ replicas: o.spec.replicas, ports, args: [`v${o.spec.version}`] });
            const name = `w${o.w}`;
            if (fleet.state.workloads.get(name)?.deleting) continue;
            commands = [{ type: "ApplyWorkload", name, labels: {}, spec: s }];
          } else if (o.op === "crash") {
            const live = [...fleet.state.instances.values()].filter((i) => i.state === "running");
            if (live.length > 0) fleet.crash(live[o.pick % live.length]!.id);
          } else commands = commonOp(fleet, o, nodes.length, (n) => nodes[n]!);
          if (commands === "skip") continue;
          acceptedTurn(fleet, commands);
          checkPorts(fleet);
        }
        const live = [...fleet.state.instances.values()].map((i) => [i.id, i.node, i.ports]);
        expect([...replay(fleet.events).instances.values()].map((i) => [i.id, i.node, i.ports])).toEqual(live);
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
