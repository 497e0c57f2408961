/**
 * Property 23 (ARCHITECTURE.md): revisions belong to one incarnation of a name, and undo brings
 * back exactly the revision asked for. Random operator sequences on one name (apply, delete and
 * apply again, undo, undo --to-revision, restart) on the simulated fleet, against a small model
 * that knows nothing of the log: what the log's reading (rollout-history.ts) says must be what
 * the model says. fast-check, fixed seed printed.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { rolloutRevisions, specAtRevision } from "../../src/core/events/rollout-history.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { specWithoutSoak as spec } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261122);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const opArb = fc.oneof(
  // What runs (args) and how many (replicas: a scaling is a generation, not a revision).
  fc.record({ op: fc.constant("apply" as const), version: fc.integer({ min: 0, max: 2 }), replicas: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ op: fc.constant("delete" as const) }),
  fc.record({ op: fc.constant("undo" as const) }),
  fc.record({ op: fc.constant("undoTo" as const), revision: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("restart" as const) }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/** The workload as the model keeps it: its specs by generation, and its rows of `rollout history`. */
interface Model {
  generation: number;
  specs: Map<number, WorkloadSpec>;
  /** The spec before the last change of what runs, and that change's revision before it. */
  previous?: { spec: WorkloadSpec; revision: number };
  lastChange: number;
  rows: Array<[number, string]>;
}

const sameTemplate = (a: WorkloadSpec, b: WorkloadSpec) => a.args[0] === b.args[0];
const sameSpec = (a: WorkloadSpec, b: WorkloadSpec) => sameTemplate(a, b) && a.replicas === b.replicas;

/** The model's next state after `s` is applied (cause: the CAUSE of a change of what runs). */
function applied(m: Model | undefined, s: WorkloadSpec, cause: string): Model {
  if (m === undefined) return { generation: 1, specs: new Map([[1, s]]), lastChange: 1, rows: [[1, cause]] };
  const now = m.specs.get(m.generation)!;
  if (sameSpec(now, s)) return m;
  const generation = m.generation + 1;
  m.specs.set(generation, s);
  if (sameTemplate(now, s)) return { ...m, generation };
  return { ...m, generation, previous: { spec: now, revision: m.lastChange }, lastChange: generation, rows: [...m.rows, [generation, cause]] };
}

function step(fleet: SimulatedFleet, m: Model | undefined, op: Op): Model | undefined {
  const send = (c: Command) => {
    const d = fleet.turn([c]).decisions[0]!;
    fleet.settle();
    return d.rejection === undefined;
  };
  const log = () => fleet.events.filter((e) => e.type !== "NodeHeartbeatReceived");
  switch (op.op) {
    case "apply": {
      const s = spec({ args: [`v${op.version}`], replicas: op.replicas });
      expect(send({ type: "ApplyWorkload", name: "web", labels: {}, spec: s })).toBe(true);
      return applied(m, s, "applied");
    }
    case "delete":
      expect(send({ type: "DeleteWorkload", name: "web" })).toBe(m !== undefined);
      return undefined;
    case "undo":
      expect(send({ type: "RollbackWorkload", name: "web" })).toBe(m?.previous !== undefined);
      return m?.previous ? applied(m, m.previous.spec, `undo to revision ${m.previous.revision}`) : m;
    case "undoTo": {
      // What the control plane does: the revision's spec from the log, then the undo.
      const s = specAtRevision(log(), op.revision);
      expect(s).toEqual(m?.specs.get(op.revision));
      if (m === undefined || s === undefined) return m;
      expect(send({ type: "RollbackWorkload", name: "web", to: { revision: op.revision, spec: s } })).toBe(true);
      const next = applied(m, s, `undo to revision ${op.revision}`);
      expect(fleet.state.workloads.get("web")!.spec).toEqual(m.specs.get(op.revision)!);
      return next;
    }
    case "restart":
      expect(send({ type: "RestartWorkload", name: "web" })).toBe(m !== undefined);
      return m && { ...m, rows: [...m.rows, [m.generation, "restart"]] };
  }
}

test("23: revisions belong to one incarnation of a name; undo brings back exactly the revision asked for", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 16 }), (ops) => {
      const fleet = new SimulatedFleet();
      fleet.connect({ name: "n1", capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
      fleet.settle();
      let model: Model | undefined;
      for (const op of ops) {
        model = step(fleet, model, op);
        const log = fleet.events.filter((e) => e.type !== "NodeHeartbeatReceived");
        if (model === undefined) continue;
        expect(rolloutRevisions(log).map((r) => [r.revision, r.cause])).toEqual(model.rows);
        for (let r = 1; r <= model.generation + 1; r++) expect(specAtRevision(log, r)).toEqual(model.specs.get(r));
      }
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
