/**
 * What the per-resource properties (limits, volumes, ports) share in their random runs of a
 * SimulatedFleet: nodes with room to spare, the operations every run draws beside its own
 * (delete a workload, kill or revive a node, let time pass), what those do to the fleet, and a
 * turn that must refuse nothing.
 */
import { expect } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";

/** Node `node-<i>` with room to spare: what a property varies (limits, volumes, ports) or a node being down are the only reasons to wait. */
export function roomyNode(i: number, more: Omit<Partial<FleetNode>, "name"> = {}): FleetNode {
  return { name: `node-${i}`, capacity: { cpuMillis: 1_000_000, memoryMb: 1_000_000 }, labels: {}, ...more };
}

/** An operation every run draws: on workload `w<w>`, on node `node-<n>` (which may not exist), or on the clock. */
export type CommonOp = { op: "delete"; w: number } | { op: "kill" | "revive"; n: number } | { op: "advance"; ms: number };

/**
 * A run's operations: `apply` and the property's `own` drawn beside the common ones, in this
 * order (the order fixes what a seed draws).
 */
export function opsArb<A, B>(apply: fc.MaybeWeightedArbitrary<A>, own: fc.Arbitrary<B>): fc.Arbitrary<A | B | CommonOp> {
  return fc.oneof(
    apply,
    fc.record({ op: fc.constant("delete" as const), w: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ op: fc.constantFrom("kill" as const, "revive" as const), n: fc.integer({ min: 0, max: 3 }) }),
    own,
    fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 200, max: 8_000 }) }),
  );
}

/**
 * Does a common operation: the commands it asks the next turn to decide, or "skip" when it does
 * not apply (deleting what is not there) and no turn follows. A revived node reconnects as
 * `nodeNow` says it is by then; `nodes` is how many the run has.
 */
export function commonOp(fleet: SimulatedFleet, o: CommonOp, nodes: number, nodeNow: (n: number) => FleetNode): Command[] | "skip" {
  if (o.op === "delete") return fleet.state.workloads.has(`w${o.w}`) ? [{ type: "DeleteWorkload", name: `w${o.w}` }] : "skip";
  if (o.op === "kill" && o.n < nodes) fleet.kill(`node-${o.n}`);
  if (o.op === "revive" && o.n < nodes && fleet.dead.has(`node-${o.n}`)) fleet.connect(nodeNow(o.n));
  if (o.op === "advance") fleet.advance(o.ms);
  return [];
}

/** A turn deciding `commands`, every one accepted, then the fleet settled. */
export function acceptedTurn(fleet: SimulatedFleet, commands: Command[]): void {
  const r = fleet.turn(commands);
  for (const d of r.decisions) expect(d.rejection).toBeUndefined();
  fleet.settle();
}
