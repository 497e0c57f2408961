/**
 * Rollouts under every interleaving (issue 26), fast-check with a printed seed: random update
 * strategies (surge, budget, soak, canaries, waves, auto_revert, a static port), and applies,
 * promotions, pauses, restarts, drains, crashes, nodes lost and back, and the clock's moves in random
 * order, mid-rollout included. Each turn's events are folded one by one into a copy of the state
 * before it, so every stop and every placement is judged at the moment it happens. Each
 * property names its invariants by their numbers in ARCHITECTURE.md.
 */
import { describe, setDefaultTimeout, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { evolve } from "../../src/core/events/evolve.js";
import type { ClusterState, Instance } from "../../src/core/model/cluster-state.js";
import { isReady, runsCurrentTemplate } from "../../src/core/model/cluster-status.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { waveOf } from "../../src/core/reconcile/waves.js";
import type { Check, UpdateStrategy } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";

// Each property folds hundreds of generated histories: seconds of CPU, several times that on a loaded machine.
setDefaultTimeout(30_000);

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);
const params = { seed: SEED, numRuns: RUNS, includeErrorInReport: true };

const CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };
const WAVES = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];

const strategyArb = fc
  .record({
    replicas: fc.integer({ min: 1, max: 5 }),
    maxSurge: fc.integer({ min: 0, max: 2 }),
    maxUnavailable: fc.integer({ min: 0, max: 2 }),
    soakS: fc.constantFrom(0, 0, 5, 20),
    canary: fc.constantFrom(0, 0, 1, 2),
    autoPromote: fc.boolean(),
    /** With a 10 s progress deadline: a failing spec goes back to the last completed one. */
    autoRevert: fc.boolean(),
    waves: fc.boolean(),
    /** A static host port: one copy a node, and a replacement may fit only in its old copy's place. */
    staticPort: fc.boolean(),
  })
  .filter((s) => s.maxSurge + s.maxUnavailable > 0);
type Strategy = typeof strategyArb extends fc.Arbitrary<infer T> ? T : never;

const opArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("apply" as const), failing: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 200, max: 15_000 }) }) },
  fc.record({ op: fc.constantFrom("promote" as const, "pause" as const, "resume" as const, "restart" as const) }),
  fc.record({ op: fc.constantFrom("drain" as const, "uncordon" as const, "kill" as const, "revive" as const, "crash" as const), n: fc.nat() }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

const zonesArb = fc.array(fc.constantFrom("a", "b", "c"), { minLength: 2, maxLength: 5 });

function applyCommand(s: Strategy, version: number): Command {
  const update: UpdateStrategy = {
    maxSurge: s.maxSurge,
    maxUnavailable: s.maxUnavailable,
    minHealthyTime: { seconds: s.soakS, nanos: 0 },
    canary: s.canary,
    autoPromote: s.autoPromote,
    autoRevert: s.autoRevert,
    waves: s.waves ? WAVES : [],
  };
  const ports = s.staticPort ? [{ name: "http", static: 18080, to: undefined, protocol: "" }] : [];
  return { type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ args: [`v${version}`], replicas: s.replicas, checks: [CHECK], update, ports, progressDeadline: { seconds: 10, nanos: 0 } }) };
}

/**
 * Runs the operations on a fleet of one roomy node per zone entry; `judge` sees each event with
 * the state just before it, `judgeTurn` the state each turn commits.
 */
function run(zones: string[], s: Strategy, ops: Op[], judge: (before: ClusterState, e: ClusterEvent) => void, judgeTurn: (state: ClusterState) => void = () => {}): void {
  const fleet = new SimulatedFleet();
  const ports = { address: "10.0.0.1", range: { from: 20000, to: 20009 }, reserved: [] };
  const nodes = zones.map((zone, i) => ({ name: `node-${i}`, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: { zone }, ports }));
  for (const n of nodes) fleet.connect(n);
  let version = 1;
  fleet.turn([applyCommand(s, version)]);
  fleet.settle();
  let shadow = structuredClone(fleet.state);
  fleet.onTurn = (result) => {
    for (const e of result.events) {
      judge(shadow, e);
      evolve(shadow, e);
    }
    judgeTurn(fleet.state);
    shadow = structuredClone(fleet.state);
  };
  for (const op of ops) {
    if ("failing" in op) {
      if (op.failing) fleet.failingChecks.add("web");
      else fleet.failingChecks.delete("web");
      fleet.turn([applyCommand(s, ++version)]);
    } else if ("ms" in op) fleet.advance(op.ms);
    else if ("n" in op) {
      const node = nodes[op.n % nodes.length]!;
      const running = wanted(fleet.state).filter((i) => i.state === "running");
      if (op.op === "crash") {
        if (running.length > 0) fleet.crash(running[op.n % running.length]!.id);
        fleet.turn();
      } else if (op.op === "kill") fleet.kill(node.name);
      else if (op.op === "revive") {
        if (fleet.dead.has(node.name)) fleet.connect(node);
        fleet.turn();
      } else fleet.turn([{ type: op.op === "drain" ? "DrainNode" : "UncordonNode", node: node.name }]);
    }
    else if (op.op === "promote") fleet.turn([{ type: "PromoteRollout", name: "web", by: "someone" }]);
    else if (op.op === "restart") fleet.turn([{ type: "RestartWorkload", name: "web" }]);
    else fleet.turn([{ type: "PauseRollout", name: "web", paused: op.op === "pause", by: "someone" }]);
  }
  fleet.advance(60_000);
}

const wanted = (state: ClusterState): Instance[] => [...state.instances.values()].filter((i) => i.workload === "web" && i.desired === "run");
/** Replicas with a Ready copy that serves (wanted, running, checks passing). */
const serving = (state: ClusterState, replicas: number) => new Set(wanted(state).filter((i) => isReady(i) && i.index < replicas).map((i) => i.index)).size;

describe("rollouts under interleaved applies, soaks, canaries, waves, reverts, pauses, restarts, drains, crashes and lost nodes", () => {
  test("4: no stop takes the replicas served by a Ready copy below replicas − max_unavailable", () => {
    fc.assert(
      fc.property(zonesArb, strategyArb, fc.array(opArb, { maxLength: 20 }), (zones, s, ops) => {
        const floor = s.replicas - Math.min(s.maxUnavailable, s.replicas);
        run(zones, s, ops, (before, e) => {
          if (e.type !== "InstanceTransitioned" || e.event.type !== "stop") return;
          const inst = before.instances.get(e.id);
          if (inst === undefined || inst.desired !== "run" || !isReady(inst)) return;
          const was = serving(before, s.replicas);
          const after = structuredClone(before);
          evolve(after, e);
          const now = serving(after, s.replicas);
          if (now < was && now < floor) throw new Error(`stopping ${e.id} (${e.event.reason}) left ${now} replicas served, floor ${floor}`);
        });
      }),
      params,
    );
  });

  test("18: while old copies remain, a copy of the new template is placed only in a wave that has started", () => {
    fc.assert(
      fc.property(zonesArb, strategyArb.map((s) => ({ ...s, waves: true })), fc.array(opArb, { maxLength: 20 }), (zones, s, ops) => {
        const selectors = WAVES.map((w) => w.nodeSelector);
        run(zones, s, ops, (before, e) => {
          if (e.type !== "InstanceTransitioned" || e.event.type !== "place") return;
          const w = before.workloads.get("web")!;
          const inst = before.instances.get(e.id)!;
          // Old copies that run (a failed one is replaced wherever it fits: it holds no wave back).
          if (!runsCurrentTemplate(w, inst) || !wanted(before).some((i) => !runsCurrentTemplate(w, i) && i.state !== "failed")) return;
          const wave = waveOf(selectors, before.nodes.get(e.event.node));
          if (wave > w.wave) throw new Error(`${e.id} placed on ${e.event.node} (wave ${wave + 1}) while the rollout has started waves up to ${w.wave + 1}`);
        });
      }),
      params,
    );
  });

  test("18: while a canary holds a rollout, no more than `canary` copies of the new template are wanted, drains and lost nodes included", () => {
    fc.assert(
      fc.property(zonesArb, strategyArb.map((s) => ({ ...s, canary: s.canary === 0 ? (1 as const) : s.canary })), fc.array(opArb, { maxLength: 20 }), (zones, s, ops) => {
        // As each turn commits it (a moved canary's start and its old copy's stop are one turn).
        run(zones, s, ops, () => {}, (state) => {
          const w = state.workloads.get("web")!;
          // Held (a revert has no canaries): the old copies keep their spec, moved or made again.
          if (w.promoted || w.reverted !== null) return;
          if (!wanted(state).some((i) => !runsCurrentTemplate(w, i))) return;
          const fresh = wanted(state).filter((i) => runsCurrentTemplate(w, i));
          if (fresh.length > Math.min(s.canary, s.replicas)) throw new Error(`${fresh.map((i) => i.id)} of the new template before promotion (canary ${s.canary})`);
        });
      }),
      params,
    );
  });
});
