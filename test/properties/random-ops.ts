/**
 * Random fleets, workloads of every kind and operations on them (apply, delete, node loss and
 * return, cordon, drain, crashes, time), and how a SimulatedFleet performs each: what the core
 * invariants (invariants.test.ts) and the quiet-workload equivalence (quiet.test.ts) draw from.
 */
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { type WorkloadSpec, WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import type { FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "../core/fixtures.js";

export const nodeArb = fc.record({
  cpu: fc.integer({ min: 1, max: 8 }).map((c) => c * 1000),
  mem: fc.integer({ min: 1, max: 16 }).map((m) => m * 512),
  zone: fc.constantFrom("a", "b"),
});
export const fleetArb = fc.array(nodeArb, { minLength: 1, maxLength: 6 }).map((ns) =>
  ns.map((n, i): FleetNode => ({ name: `node-${i}`, capacity: { cpuMillis: n.cpu, memoryMb: n.mem }, labels: { zone: n.zone } })),
);
export const workloadArb = fc
  .record({
    replicas: fc.integer({ min: 0, max: 5 }),
    cpu: fc.integer({ min: 1, max: 15 }).map((c) => c * 100),
    mem: fc.integer({ min: 1, max: 16 }).map((m) => m * 64),
    zone: fc.option(fc.constantFrom("a", "b"), { nil: undefined }),
    maxSurge: fc.integer({ min: 0, max: 2 }),
    maxUnavailable: fc.integer({ min: 0, max: 2 }),
  })
  .filter((w) => w.maxSurge + w.maxUnavailable > 0);
export type WorkloadGen = typeof workloadArb extends fc.Arbitrary<infer T> ? T : never;

/** What makes a workload a system or batch one (issue 17); services are the most common still. */
export const kindArb = fc.record({
  kind: fc.constantFrom("service" as const, "service" as const, "system" as const, "batch" as const),
  completions: fc.integer({ min: 1, max: 4 }),
  parallelism: fc.integer({ min: 1, max: 3 }),
  backoffLimit: fc.integer({ min: 0, max: 3 }),
});
export type KindGen = typeof kindArb extends fc.Arbitrary<infer T> ? T : never;
/** A workload of any kind. */
export const anyWorkloadArb = fc.tuple(workloadArb, kindArb).map(([w, k]): WorkloadGen & KindGen => ({ ...w, ...k }));
const KIND_NUMBER = { service: WorkloadKind.WORKLOAD_KIND_SERVICE, system: WorkloadKind.WORKLOAD_KIND_SYSTEM, batch: WorkloadKind.WORKLOAD_KIND_BATCH } as const;

export const opArb = fc.oneof(
  fc.record({ op: fc.constant("apply" as const), w: fc.integer({ min: 0, max: 3 }), spec: anyWorkloadArb, version: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ op: fc.constant("delete" as const), w: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constantFrom("kill" as const, "revive" as const, "cordon" as const, "uncordon" as const, "drain" as const), n: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ op: fc.constant("crash" as const), pick: fc.nat(), exitCode: fc.constantFrom(0, 1, 137) }),
  fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 200, max: 8_000 }) }),
);
export type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

export function applyCommand(name: string, w: WorkloadGen & Partial<KindGen>, version = 0): Command {
  const kind = w.kind ?? "service";
  const common: Partial<WorkloadSpec> = {
    args: ["3600", `v${version}`],
    resources: { cpuMillis: w.cpu, memoryMb: w.mem },
    nodeSelector: w.zone ? { zone: w.zone } : {},
    update: { maxSurge: w.maxSurge, maxUnavailable: w.maxUnavailable, waves: [] },
    kind: KIND_NUMBER[kind],
  };
  const byKind: Partial<WorkloadSpec> =
    kind === "service"
      ? { replicas: w.replicas }
      : kind === "system"
        ? {}
        : { completions: w.completions, parallelism: w.parallelism, backoffLimit: w.backoffLimit, restartPolicy: { mode: 2, initialBackoff: { seconds: 1, nanos: 0 }, maxBackoff: { seconds: 2, nanos: 0 } } };
  return { type: "ApplyWorkload", name, labels: {}, spec: spec({ ...common, ...byKind }) };
}

/** Runs one random operation against the simulated fleet. */
export function perform(fleet: SimulatedFleet, fleetNodes: FleetNode[], op: Op): void {
  switch (op.op) {
    case "apply":
      fleet.turn([applyCommand(`w${op.w}`, op.spec, op.version)]);
      return;
    case "delete":
      if (fleet.state.workloads.has(`w${op.w}`)) fleet.turn([{ type: "DeleteWorkload", name: `w${op.w}` }]);
      return;
    case "advance":
      fleet.advance(op.ms);
      return;
    case "crash": {
      const running = [...fleet.state.instances.values()].filter((i) => i.state === "running");
      if (running.length > 0) {
        fleet.crash(running[op.pick % running.length]!.id, op.exitCode);
        fleet.turn();
      }
      return;
    }
  }
  const node = fleetNodes[op.n % fleetNodes.length]!;
  if (op.op === "kill") fleet.kill(node.name);
  else if (op.op === "revive") {
    if (fleet.dead.has(node.name)) fleet.connect(node);
    fleet.turn();
  } else {
    const type = op.op === "cordon" ? "CordonNode" : op.op === "uncordon" ? "UncordonNode" : "DrainNode";
    fleet.turn([{ type, node: node.name }]);
  }
}
