/**
 * Property tests of the core over random fleets, specs and event sequences (fast-check, fixed
 * printed seed). Each property names the invariant it proves by its number in ARCHITECTURE.md.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { INSTANCE_EVENT_TYPES, INSTANCE_STATES, type InstanceEvent, type InstanceEventType, pathBetween, transition } from "../../src/core/model/instance-machine.js";
import { type ClusterState, emptyState, forkState, type Instance, instanceSeq, instancesOfWorkload } from "../../src/core/model/cluster-state.js";
import { countsAgainstSurge, desiredCopies, heldNode, holdsNode, isReady, qualifiesForSystem, succeededIndexes } from "../../src/core/model/cluster-status.js";
import { waveOf } from "../../src/core/reconcile/waves.js";
import { type UpdateStrategy, WorkloadKind, type WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { evolve, replay } from "../../src/core/events/evolve.js";
import { isVolatile } from "../../src/core/events/event-facts.js";
import { DEFAULT_POLICY, isEmptyPlan, plan, type Policy } from "../../src/core/reconcile/reconcile.js";
import { simulate } from "../../src/sim/sim-run.js";
import { parseScenario, workloadNames } from "../../src/sim/sim-scenario.js";
import { durationMs, resolveSpec, SPEC_DEFAULTS } from "../../src/core/model/spec.js";
import { runTurn, type TurnResult } from "../../src/core/reconcile/turn.js";
import { apply, created, spec, T0, transitioned, workloadApplied } from "../core/fixtures.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { anyWorkloadArb, applyCommand, fleetArb, nodeArb, type Op, opArb, perform, workloadArb } from "./random-ops.js";
import { recordedTurns, rerunInputs } from "../../src/core/events/what-if.js";
import { StoredRows } from "./stored-rows.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261122);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 200);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);
const params = { seed: SEED, numRuns: RUNS, includeErrorInReport: true };
/** A little more than the default min_healthy_time of a copy without readiness checks. */
const SOAK_MS = SPEC_DEFAULTS.minHealthyWithoutChecksMs + 1_000;


function nonTerminalByWorkload(state: ClusterState): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of state.instances.values()) if (countsAgainstSurge(i)) out.set(i.workload, (out.get(i.workload) ?? 0) + 1);
  return out;
}

/** Per batch workload, its template generation and the indexes whose run of that template succeeded. */
function succeededByWorkload(state: ClusterState): Map<string, { template: number; done: Set<number> }> {
  const out = new Map<string, { template: number; done: Set<number> }>();
  for (const w of state.workloads.values()) {
    if (resolveSpec(w.spec).kind === "batch") out.set(w.name, { template: w.templateGeneration, done: succeededIndexes(w, instancesOfWorkload(state, w.name)) });
  }
  return out;
}

/** Invariant 17 (ARCHITECTURE.md) after one turn; `succeededBefore` as it stood before the turn. */
function checkKinds(state: ClusterState, result: TurnResult, succeededBefore: ReturnType<typeof succeededByWorkload>): void {
  for (const w of state.workloads.values()) {
    if (w.deleting) continue;
    const s = resolveSpec(w.spec);
    const copies = instancesOfWorkload(state, w.name);
    if (s.kind === "system") {
      const perNode = new Map<string, number>();
      for (const i of copies) if (i.node !== null && i.desired === "run" && countsAgainstSurge(i)) perNode.set(i.node, (perNode.get(i.node) ?? 0) + 1);
      for (const [node, n] of perNode) if (n > 1) throw new Error(`system workload ${w.name} has ${n} copies on ${node}`);
    } else if (s.kind === "batch") {
      const running = copies.filter((i) => i.state === "running" && i.desired === "run" && i.generation >= w.templateGeneration).length;
      if (running > s.parallelism) throw new Error(`batch ${w.name} runs ${running} copies, parallelism ${s.parallelism}`);
      const done = succeededIndexes(w, copies);
      if ([...done].filter((i) => i < s.replicas).length > s.replicas) throw new Error(`batch ${w.name}: more than ${s.replicas} succeeded`);
    }
  }
  for (const e of result.events) {
    if (e.type !== "InstanceCreated") continue;
    const before = succeededBefore.get(e.workload);
    const w = state.workloads.get(e.workload);
    // Its template unchanged (a changed one runs every index again).
    if (before?.done.has(e.index) && w !== undefined && w.templateGeneration === before.template && resolveSpec(w.spec).kind === "batch")
      throw new Error(`batch ${e.workload} started index ${e.index} again after it succeeded`);
  }
}

/**
 * Invariant 17 once the fleet settled: a system workload has a copy on every node that
 * qualifies (or says why not: no room, a restart backoff) and none on a node that does not,
 * but for cordoned nodes keeping what ran there, nodes not heard lately, and a draining node
 * whose other copies have not stopped yet (held, with that reason); a batch that is
 * Complete has exactly `completions` successes.
 */
function checkSettledKinds(fleet: SimulatedFleet): void {
  const state = fleet.state;
  const skips = fleet.plans.at(-1)?.skip ?? [];
  for (const w of state.workloads.values()) {
    if (w.deleting) continue;
    const s = resolveSpec(w.spec);
    const copies = instancesOfWorkload(state, w.name).filter((i) => i.node !== null && i.desired === "run" && countsAgainstSurge(i));
    if (s.kind === "system") {
      for (const node of state.nodes.values()) {
        const here = copies.filter((i) => i.node === node.name);
        if (qualifiesForSystem(node, node.health, s)) {
          const why = skips.some((k) => k.workload === w.name && (k.node === node.name || here.some((i) => i.id === k.instance)));
          if (here.length !== 1 && !why) throw new Error(`system workload ${w.name}: ${here.length} copies on qualifying ${node.name}, and no reason`);
        } else if (here.length > 0 && node.health === "ready" && (node.draining || node.schedulable) && !here.every((i) => skips.some((k) => k.instance === i.id))) {
          throw new Error(`system workload ${w.name} keeps ${here.map((i) => i.id)} on ${node.name}, which does not qualify`);
        }
      }
    } else if (s.kind === "batch" && w.finished?.outcome === "complete") {
      const done = [...succeededIndexes(w, instancesOfWorkload(state, w.name))].filter((i) => i < s.replicas).length;
      if (done !== s.replicas) throw new Error(`batch ${w.name} Complete with ${done} of ${s.replicas} succeeded`);
    }
  }
}

/** Checks every per-turn invariant; throws with the first violation. */
function watch(fleet: SimulatedFleet, policy: Policy): void {
  let before = nonTerminalByWorkload(fleet.state);
  let succeededBefore = succeededByWorkload(fleet.state);
  fleet.onTurn = (result: TurnResult) => {
    const state = fleet.state;
    // 1. idempotence: planning again right after executing a plan changes nothing.
    const again = plan(state, fleet.now, policy);
    if (result.plan && !isEmptyPlan(again)) throw new Error(`planning again is not empty at ${fleet.now}: ${JSON.stringify(again)}`);

    // 2. no node's capacity is ever exceeded.
    const used = new Map<string, { cpu: number; mem: number }>();
    for (const i of state.instances.values()) {
      if (i.node === null || !holdsNode(i)) continue;
      const u = used.get(i.node) ?? { cpu: 0, mem: 0 };
      u.cpu += i.resources.cpuMillis;
      u.mem += i.resources.memoryMb;
      used.set(i.node, u);
    }
    for (const [name, u] of used) {
      const cap = state.nodes.get(name)!.capacity;
      if (u.cpu > cap.cpuMillis || u.mem > cap.memoryMb) throw new Error(`node ${name} overcommitted: ${JSON.stringify(u)} > ${JSON.stringify(cap)}`);
    }

    // 3. never more than replicas + max_surge non-terminal instances (unless already above before
    //    this turn, as after scaling down); a failed copy being cleaned up does not count.
    //    17. a system workload never wants two copies on one node; a batch never
    //    runs more than `parallelism` copies of its template, never more than `completions`
    //    succeed, and never starts again an index whose run succeeded.
    const after = nonTerminalByWorkload(state);
    for (const [name, count] of after) {
      const w = state.workloads.get(name);
      if (!w || w.deleting) continue;
      const s = resolveSpec(w.spec);
      if (s.kind !== "service") continue;
      const limit = Math.max(s.replicas + s.maxSurge, before.get(name) ?? 0);
      if (count > limit) throw new Error(`workload ${name} has ${count} non-terminal instances, limit ${limit}`);
    }
    before = after;
    checkKinds(state, result, succeededBefore);
    succeededBefore = succeededByWorkload(state);

    // 5. nothing is placed on an Offline, Suspect, cordoned, draining or disconnected node.
    const p = result.plan;
    if (p) {
      const targets = [...p.place.map((x) => x.node), ...p.schedule.map((x) => x.node)];
      for (const t of targets) {
        const n = state.nodes.get(t)!;
        if (n.health !== "ready" || !n.schedulable || n.draining || !n.connected) throw new Error(`placed on ${t}: ${JSON.stringify(n)}`);
      }
    }

    // 9. the per-workload index holds exactly the instances, each under its own workload.
    const indexed = [...state.instancesByWorkload].flatMap(([w, ids]) => [...ids].map((id) => `${w}/${id}`)).sort();
    const actual = [...state.instances.values()].map((i) => `${i.workload}/${i.id}`).sort();
    if (JSON.stringify(indexed) !== JSON.stringify(actual)) throw new Error(`instance index out of step: ${JSON.stringify({ indexed, actual })}`);
    //    So does the per-node index: each node's ids are the instances placed on it, whatever their state.
    const byNode = [...state.instancesByNode].flatMap(([n, ids]) => [...ids].map((id) => `${n}/${id}`)).sort();
    const placed = [...state.instances.values()].flatMap((i) => (i.node === null ? [] : [`${i.node}/${i.id}`])).sort();
    if (JSON.stringify(byNode) !== JSON.stringify(placed)) throw new Error(`node index out of step: ${JSON.stringify({ byNode, placed })}`);
    //    So does the per-node load: each node's copies are those holding it (holdsNode), and its sums theirs.
    const load = new Map<string, { cpuMillis: number; memoryMb: number; copies: string[] }>();
    for (const i of state.instances.values()) {
      const node = heldNode(i);
      if (node === null) continue;
      const l = load.get(node) ?? { cpuMillis: 0, memoryMb: 0, copies: [] };
      load.set(node, { cpuMillis: l.cpuMillis + i.resources.cpuMillis, memoryMb: l.memoryMb + i.resources.memoryMb, copies: [...l.copies, i.id].sort() });
    }
    const kept = new Map([...state.nodeLoad].map(([node, l]) => [node, { cpuMillis: l.cpuMillis, memoryMb: l.memoryMb, copies: [...l.copies].sort() }]));
    expect(kept).toEqual(load);
    //    The map holds them in the order they were created: a census of some workloads' copies lists them as a census of all does (quiet.ts).
    const seqs = [...state.instances.keys()].map(instanceSeq);
    if (seqs.some((q, k) => k > 0 && q <= seqs[k - 1]!)) throw new Error(`instances out of creation order: ${JSON.stringify(seqs)}`);
  };
}

describe("core invariants over random fleets and event sequences", () => {
  test("1, 2, 3, 5, 9, 17: idempotent, never overcommitted, within surge, only on healthy nodes, instance index in step, kinds keep their shape; 8: replay(log) equals the live state", () => {
    fc.assert(
      fc.property(fleetArb, fc.array(anyWorkloadArb, { minLength: 1, maxLength: 4 }), fc.array(opArb, { maxLength: 25 }), (fleetNodes, workloads, ops) => {
        const fleet = new SimulatedFleet(DEFAULT_POLICY);
        watch(fleet, DEFAULT_POLICY);
        for (const n of fleetNodes) fleet.connect(n);
        fleet.turn(workloads.map((w, i) => applyCommand(`w${i}`, w)));
        for (const op of ops) perform(fleet, fleetNodes, op);
        fleet.settle();
        checkSettledKinds(fleet);
        // 8. folding the log from nothing rebuilds exactly the live state.
        expect(replay(fleet.events)).toEqual(fleet.state);
      }),
      params,
    );
  });

  test("22: a follower that starts from the store's snapshot at any turn and folds only the logged events after it holds the leader's state, every kind of workload and every node's agent stream included", () => {
    /** Heartbeat times are volatile, never logged: the leader hears them, a follower cannot. */
    const heartbeatsAside = (state: ClusterState) => {
      const s = structuredClone(state);
      for (const n of s.nodes.values()) n.lastHeartbeatAt = 0;
      return s;
    };
    const followerOpArb = fc.oneof(opArb, fc.record({ op: fc.constant("restart" as const), downMs: fc.integer({ min: 0, max: 20_000 }), reconnectMs: fc.integer({ min: 0, max: 3_000 }) }));
    fc.assert(
      fc.property(fleetArb, fc.array(anyWorkloadArb, { minLength: 1, maxLength: 4 }), fc.array(followerOpArb, { maxLength: 25 }), fc.nat(), (fleetNodes, workloads, ops, cut) => {
        const fleet = new SimulatedFleet(DEFAULT_POLICY);
        // Every turn commits: the store's rows, as both stores write them.
        const stored = new StoredRows();
        fleet.onTurn = (result, f) => stored.commit(result.events, f.state);
        const act = (op: (typeof ops)[number]) => (op.op === "restart" ? fleet.restart(op.downMs, op.reconnectMs) : perform(fleet, fleetNodes, op));
        for (const n of fleetNodes) fleet.connect(n);
        fleet.turn(workloads.map((w, i) => applyCommand(`w${i}`, w)));
        const k = cut % (ops.length + 1);
        for (const op of ops.slice(0, k)) act(op);
        // The follower's start: a snapshot of the store, and where the log stood.
        const follower = stored.snapshot();
        const from = fleet.events.length;
        for (const op of ops.slice(k)) act(op);
        fleet.settle();
        // What the log carries: logged events only, as the store hands them back (copies).
        for (const e of fleet.events.slice(from)) if (!isVolatile(e)) evolve(follower, structuredClone(e));
        expect(heartbeatsAside(follower)).toEqual(heartbeatsAside(fleet.state));
        // What reads derive from it, such as the copies a system workload wants (one per connected Ready node).
        for (const w of fleet.state.workloads.values()) expect([w.name, desiredCopies(follower, w)]).toEqual([w.name, desiredCopies(fleet.state, w)]);
      }),
      params,
    );
  });

  test("10: turns on a fork (what-if plans) leave the original untouched and decide what turns on a deep copy decide", () => {
    const whatIfArb = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant("apply" as const), w: fc.integer({ min: 0, max: 3 }), spec: anyWorkloadArb, version: fc.integer({ min: 0, max: 2 }) }),
        fc.record({ op: fc.constant("delete" as const), w: fc.integer({ min: 0, max: 3 }) }),
        fc.record({ op: fc.constant("fail" as const), pick: fc.nat() }),
        fc.record({ op: fc.constant("later" as const), ms: fc.integer({ min: 200, max: 8_000 }) }),
      ),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(fleetArb, fc.array(anyWorkloadArb, { minLength: 1, maxLength: 4 }), fc.array(opArb, { maxLength: 15 }), whatIfArb, (fleetNodes, workloads, ops, whatIf) => {
        const fleet = new SimulatedFleet(DEFAULT_POLICY);
        for (const n of fleetNodes) fleet.connect(n);
        fleet.turn(workloads.map((w, i) => applyCommand(`w${i}`, w)));
        for (const op of ops) perform(fleet, fleetNodes, op);
        const before = structuredClone(fleet.state);
        const fork = forkState(fleet.state);
        const deep = structuredClone(fleet.state);
        let now = fleet.now;
        for (const step of whatIf) {
          let commands: Command[] = [];
          if (step.op === "apply") commands = [applyCommand(`w${step.w}`, step.spec, step.version)];
          else if (step.op === "delete") commands = [{ type: "DeleteWorkload", name: `w${step.w}` }];
          else if (step.op === "later") now += step.ms;
          else {
            // A copy that fails records a crash: the one history evolve changes in place.
            const placed = [...fork.instances.values()].filter((i) => i.node !== null && (i.state === "running" || i.state === "provisioning"));
            if (placed.length === 0) continue;
            const i = placed[step.pick % placed.length]!;
            commands = [{ type: "ReportInstance", node: i.node!, instanceId: i.id, generation: i.generation, state: "failed", reason: "what-if", exitCode: 1 }];
          }
          expect(runTurn(fork, commands, { now, policy: DEFAULT_POLICY, reconcile: true })).toEqual(runTurn(deep, commands, { now, policy: DEFAULT_POLICY, reconcile: true }));
        }
        expect(fork).toEqual(deep);
        expect(fleet.state).toEqual(before);
      }),
      params,
    );
  });

  test("4: a rolling update with room never takes Running below replicas − max_unavailable", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (replicas, maxSurge, maxUnavailable, nodes, soakedFirst) => {
          fc.pre(maxSurge + maxUnavailable > 0);
          const fleet = new SimulatedFleet();
          for (let i = 0; i < nodes; i++) fleet.connect({ name: `node-${i}`, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
          const w = { replicas, cpu: 100, mem: 64, zone: undefined, maxSurge, maxUnavailable };
          fleet.turn([applyCommand("web", w, 0)]);
          fleet.settle();
          // Copies without readiness checks are available once up for min_healthy_time (10 s);
          // the change comes after that, or at once (its old copies Ready, not yet soaked).
          if (soakedFirst) fleet.advance(SOAK_MS);
          const running = () => [...fleet.state.instances.values()].filter((i) => i.workload === "web" && i.state === "running").length;
          expect(running()).toBe(replicas);
          const floor = replicas - Math.min(maxUnavailable, replicas);
          fleet.onTurn = () => {
            if (running() < floor) throw new Error(`only ${running()} Running during the update, floor ${floor}`);
          };
          fleet.turn([applyCommand("web", w, 1)]);
          // At worst one replica at a time, each replacement soaking before the next.
          fleet.advance((replicas + 2) * SOAK_MS);
          fleet.settle();
          const gen2 = [...fleet.state.instances.values()].filter((i) => i.state === "running" && i.generation === 2);
          expect(gen2).toHaveLength(replicas);
          expect(fleet.state.instances.size).toBe(replicas);
        },
      ),
      params,
    );
  });

  test("6: every instance on an Offline node is replaced elsewhere", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }), fc.nat(), (nodes, replicaCounts, victim) => {
        const fleet = new SimulatedFleet();
        for (let i = 0; i < nodes; i++) fleet.connect({ name: `node-${i}`, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
        fleet.turn(replicaCounts.map((r, i) => applyCommand(`w${i}`, { replicas: r, cpu: 100, mem: 64, zone: undefined, maxSurge: 1, maxUnavailable: 1 })));
        fleet.settle();
        const dead = `node-${victim % nodes}`;
        const onDead = [...fleet.state.instances.values()].filter((i) => i.node === dead).map((i) => i.id);
        fleet.kill(dead);
        fleet.advance(DEFAULT_POLICY.offlineAfterMs + 1_000);
        fleet.settle();
        expect(fleet.state.nodes.get(dead)!.health).toBe("offline");
        for (const id of onDead) expect(fleet.state.instances.get(id)?.state ?? "forgotten").toBe("lost");
        replicaCounts.forEach((r, i) => {
          const live = [...fleet.state.instances.values()].filter((x) => x.workload === `w${i}` && x.state === "running");
          expect(live).toHaveLength(r);
          for (const x of live) expect(x.node).not.toBe(dead);
        });
      }),
      params,
    );
  });

  test("11: a control-plane restart, however long it was down, never changes which copies run", () => {
    const { startGraceMs, offlineAfterMs } = DEFAULT_POLICY;
    fc.assert(
      fc.property(
        fleetArb,
        fc.array(anyWorkloadArb, { minLength: 1, maxLength: 4 }),
        fc.array(opArb, { maxLength: 20 }),
        fc.integer({ min: 0, max: 60_000 }),
        // Agents reconnect within about a second of the control plane listening (src/agent/control-stream.ts).
        fc.integer({ min: 0, max: 2_000 }),
        (fleetNodes, workloads, ops, downMs, reconnectMs) => {
          /** The same fleet after the same operations, every agent alive, the world settled. */
          const prepared = () => {
            const fleet = new SimulatedFleet(DEFAULT_POLICY);
            for (const n of fleetNodes) fleet.connect(n);
            fleet.turn(workloads.map((w, i) => applyCommand(`w${i}`, w)));
            for (const op of ops) perform(fleet, fleetNodes, op);
            for (const n of fleetNodes) if (fleet.dead.has(n.name)) fleet.connect(n);
            fleet.settle();
            return fleet;
          };
          const runningIn = (fleet: SimulatedFleet) =>
            [...fleet.state.instances.values()]
              .filter((i) => i.state === "running" && i.desired === "run")
              .map((i) => i.id)
              .sort();
          /** Copies running at the start that a stop or loss hit within the next minutes, with or without a restart. */
          const disruptedIn = (restart: boolean) => {
            const fleet = prepared();
            const before = runningIn(fleet);
            const from = fleet.events.length;
            if (restart) fleet.restart(downMs, reconnectMs);
            else fleet.advance(downMs + reconnectMs);
            fleet.advance(startGraceMs + offlineAfterMs + 2_000);
            fleet.settle();
            const hit = fleet.events
              .slice(from)
              .flatMap((e) => (e.type === "InstanceTransitioned" && before.includes(e.id) && (e.event.type === "lose" || e.event.type === "stop") ? [e.id] : []));
            return { hit: [...new Set(hit)].sort(), gone: before.filter((id) => !runningIn(fleet).includes(id)) };
          };
          // What a restart disrupts, the fleet would have disrupted anyway: work that was only
          // waiting for time to pass (a restart backoff ending lets a held rollout go on).
          // Copies may be added meanwhile.
          const withRestart = disruptedIn(true);
          const without = disruptedIn(false);
          expect(withRestart.hit.filter((id) => !without.hit.includes(id))).toEqual([]);
          expect(withRestart.gone.filter((id) => !without.gone.includes(id))).toEqual([]);
        },
      ),
      params,
    );
  });

  test("36: a control plane cut off from every node, however long, changes nothing once they reconnect within the grace", () => {
    const { startGraceMs, offlineAfterMs } = DEFAULT_POLICY;
    fc.assert(
      fc.property(
        fleetArb,
        fc.array(workloadArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: offlineAfterMs + 1, max: 60_000 }),
        // Agents come back one by one, the last well within the grace (the lab measured up to 9 s).
        fc.array(fc.integer({ min: 0, max: startGraceMs - 1_000 }), { minLength: 6, maxLength: 6 }),
        (fleetNodes, workloads, cutMs, backAfter) => {
          fc.pre(fleetNodes.length >= 2);
          const fleet = new SimulatedFleet(DEFAULT_POLICY);
          for (const n of fleetNodes) fleet.connect(n);
          fleet.turn(workloads.map((w, i) => applyCommand(`w${i}`, w)));
          fleet.settle();
          const running = () => [...fleet.state.instances.values()].filter((i) => i.state === "running" && i.desired === "run").map((i) => i.id).sort();
          const before = running();
          const from = fleet.events.length;
          for (const n of fleetNodes) fleet.kill(n.name);
          fleet.advance(cutMs);
          const order = fleetNodes.map((n, i) => ({ n, at: backAfter[i]! })).sort((a, b) => a.at - b.at);
          let at = 0;
          for (const { n, at: when } of order) {
            fleet.advance(when - at);
            at = when;
            fleet.connect(n);
          }
          fleet.advance(startGraceMs + offlineAfterMs + 2_000);
          fleet.settle();
          const hit = fleet.events.slice(from).filter((e) => e.type === "InstanceTransitioned" && before.includes(e.id) && (e.event.type === "lose" || e.event.type === "stop"));
          expect(hit).toEqual([]);
          expect(running()).toEqual(before);
        },
      ),
      params,
    );
  });

  test("13: what-if with nothing moved replays a recorded log's turns as recorded, event for event", () => {
    fc.assert(
      fc.property(
        fleetArb,
        fc.array(anyWorkloadArb, { minLength: 1, maxLength: 4 }),
        fc.array(opArb, { maxLength: 20 }),
        fc.option(fc.record({ downMs: fc.integer({ min: 0, max: 30_000 }), reconnectMs: fc.integer({ min: 0, max: 2_000 }) }), { nil: undefined }),
        fc.array(opArb, { maxLength: 10 }),
        (fleetNodes, workloads, ops, restart, after) => {
          const fleet = new SimulatedFleet(DEFAULT_POLICY);
          for (const n of fleetNodes) fleet.connect(n);
          fleet.turn(workloads.map((w, i) => applyCommand(`w${i}`, w)));
          for (const op of ops) perform(fleet, fleetNodes, op);
          if (restart) fleet.restart(restart.downMs, restart.reconnectMs);
          for (const op of after) perform(fleet, fleetNodes, op);
          fleet.settle();
          // What the store would have logged.
          const log = fleet.events.filter((e) => !isVolatile(e)).map((event, i) => ({ seq: i + 1, event }));
          const again = rerunInputs(recordedTurns(log), DEFAULT_POLICY);
          expect(again.turns.flatMap((t) => t.skipped)).toEqual([]);
          expect(again.turns.flatMap((t) => [...t.inputs.map((i) => i.event), ...t.decisions])).toEqual(log.map((l) => l.event));
        },
      ),
      params,
    );
  });

  test("7: a rejected transition or report never changes state", () => {
    fc.assert(
      fc.property(fc.constantFrom(...INSTANCE_STATES), fc.constantFrom(...INSTANCE_EVENT_TYPES), (from, type) => {
        const eventOf = (t: InstanceEventType) => (t === "place" ? { type: t, node: "n" } : t === "fail" || t === "stop" ? { type: t, reason: "r" } : { type: t }) as InstanceEvent;
        // A recorded instance in `from`, reached the way the record reaches it (lost: from running).
        const path = from === "lost" ? [...pathBetween("pending", "running")!, "lose" as const] : pathBetween("pending", from)!;
        const state = apply(emptyState(), [workloadApplied("w", T0), created("w-0.1", T0), ...path.map((t) => transitioned("w-0.1", T0, eventOf(t)))]);
        expect(state.instances.get("w-0.1")!.state).toBe(from);
        const snapshot = structuredClone(state);
        const r = transition(from, eventOf(type));
        if (r.ok) return;
        expect(r.rejection).toEqual({ kind: "InvalidTransition", from, event: type });
        // The record refuses it too, and is left as it was.
        expect(() => evolve(state, transitioned("w-0.1", T0 + 1, eventOf(type)))).toThrow(`cannot ${type} from ${from}`);
        expect(state).toEqual(snapshot);
      }),
      params,
    );
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 10 }),
        fc.record({
          pick: fc.nat(),
          node: fc.constantFrom("node-0", "node-1", "elsewhere"),
          state: fc.constantFrom("provisioning" as const, "running" as const, "failed" as const, "stopped" as const),
          generation: fc.integer({ min: 0, max: 3 }),
        }),
        (ops, report) => {
          const fleetNodes: FleetNode[] = [0, 1].map((i) => ({ name: `node-${i}`, capacity: { cpuMillis: 4000, memoryMb: 4096 }, labels: { zone: "a" } }));
          const fleet = new SimulatedFleet();
          for (const n of fleetNodes) fleet.connect(n);
          fleet.turn([applyCommand("w0", { replicas: 3, cpu: 100, mem: 64, zone: undefined, maxSurge: 1, maxUnavailable: 1 })]);
          for (const op of ops) perform(fleet, fleetNodes, op);
          const ids = [...fleet.state.instances.keys()];
          const instanceId = ids.length > 0 ? ids[report.pick % ids.length]! : "w0-0.999";
          const snapshot = structuredClone(fleet.state);
          const d = decide(fleet.state, { type: "ReportInstance", instanceId, node: report.node, state: report.state, generation: report.generation, reason: "" }, fleet.now);
          expect(fleet.state).toEqual(snapshot);
          if (d.rejection) {
            expect(d.events).toEqual([]);
            const command: Command = { type: "ReportInstance", instanceId, node: report.node, state: report.state, generation: report.generation, reason: "" };
            const r = runTurn(fleet.state, [command], { now: fleet.now, policy: DEFAULT_POLICY, reconcile: false });
            expect(r.decisions[0]!.rejection).toEqual(d.rejection);
            expect(r.events).toEqual([]);
            expect(fleet.state).toEqual(snapshot);
          }
        },
      ),
      params,
    );
  });
});

describe("readiness checks and the disruption budget", () => {
  const check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp" as const, value: { port: 8080, portName: "" } } };

  test("4: a rolling update never takes Ready copies below replicas − max_unavailable when replacements fail their checks", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), (replicas, maxSurge, maxUnavailable) => {
        fc.pre(maxSurge + maxUnavailable > 0);
        const fleet = new SimulatedFleet();
        for (let i = 0; i < 3; i++) fleet.connect({ name: `node-${i}`, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
        const apply = (v: string): Command => ({
          type: "ApplyWorkload",
          name: "web",
          labels: {},
          spec: spec({ args: [v], replicas, checks: [check], update: { maxSurge, maxUnavailable, waves: [] } }),
        });
        fleet.turn([apply("v1")]);
        fleet.settle();
        const ready = () => [...fleet.state.instances.values()].filter((i) => i.workload === "web" && isReady(i)).length;
        expect(ready()).toBe(replicas);
        // The new template's copies start but never pass their checks.
        fleet.failingChecks.add("web");
        const floor = replicas - Math.min(maxUnavailable, replicas);
        fleet.onTurn = () => {
          if (ready() < floor) throw new Error(`only ${ready()} Ready, floor ${floor}`);
        };
        fleet.turn([apply("v2")]);
        fleet.settle();
        fleet.advance(30_000);
        fleet.settle();
        expect(ready()).toBeGreaterThanOrEqual(floor);
        // The rollout is held, not finished: old Ready copies remain.
        const old = [...fleet.state.instances.values()].filter((i) => i.generation === 1 && i.desired === "run");
        expect(old.length).toBeGreaterThanOrEqual(floor);
      }),
      params,
    );
  });

  /** A fleet of three roomy nodes running `web` v1 with this update strategy, every copy available. */
  function rolledOut(replicas: number, strategy: Partial<UpdateStrategy>, over: Partial<WorkloadSpec> = {}) {
    const update: UpdateStrategy = { waves: [], ...strategy };
    const fleet = new SimulatedFleet();
    for (let i = 0; i < 3; i++) fleet.connect({ name: `node-${i}`, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {} });
    const apply = (v: string): Command => ({ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ args: [v], replicas, checks: [check], update, ...over }) });
    fleet.turn([apply("v1")]);
    fleet.settle();
    fleet.advance(durationMs(update.minHealthyTime) ?? 0);
    fleet.settle();
    return { fleet, apply };
  }
  const web = (fleet: SimulatedFleet) => [...fleet.state.instances.values()].filter((i) => i.workload === "web");

  test("18: with min_healthy_time, a rollout never takes available (Ready and soaked) copies below replicas − max_unavailable, failing or not", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 20 }), fc.boolean(), (replicas, maxSurge, maxUnavailable, soakS, failing) => {
        fc.pre(maxSurge + maxUnavailable > 0);
        const minHealthyMs = soakS * 1000;
        const { fleet, apply } = rolledOut(replicas, { maxSurge, maxUnavailable, minHealthyTime: { seconds: soakS, nanos: 0 } });
        // Judged here, not with the core's isAvailable: Ready, and Ready for min_healthy_time.
        const available = () => web(fleet).filter((i) => isReady(i) && i.readySince !== null && fleet.now - i.readySince >= minHealthyMs).length;
        const floor = replicas - Math.min(maxUnavailable, replicas);
        expect(available()).toBe(replicas);
        if (failing) fleet.failingChecks.add("web");
        fleet.onTurn = () => {
          if (available() < floor) throw new Error(`only ${available()} available at ${fleet.now}, floor ${floor}`);
        };
        fleet.turn([apply("v2")]);
        fleet.advance(90_000);
        fleet.settle();
        if (!failing) expect(web(fleet).filter((i) => i.desired === "run").map((i) => i.generation)).toEqual(Array.from({ length: replicas }, () => 2));
      }),
      params,
    );
  });

  test("18: never more than `canary` copies of a new template before the rollout is promoted", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 }), fc.boolean(), fc.integer({ min: 0, max: 60_000 }), (replicas, canary, maxSurge, failing, waitMs) => {
        const { fleet, apply } = rolledOut(replicas, { canary, maxSurge, maxUnavailable: 1 });
        if (failing) fleet.failingChecks.add("web");
        const fresh = () => web(fleet).filter((i) => i.generation === 2 && i.desired === "run").length;
        fleet.onTurn = () => {
          if (!fleet.state.workloads.get("web")!.promoted && fresh() > canary) throw new Error(`${fresh()} new copies before promotion, canary ${canary}`);
        };
        fleet.turn([apply("v2")]);
        fleet.advance(waitMs);
        fleet.settle();
        // Held: every old copy still there, the canaries beside them.
        expect(web(fleet).filter((i) => i.generation === 1 && i.desired === "run")).toHaveLength(replicas);
        expect(fresh()).toBe(Math.min(canary, replicas));
        // Available canaries wait for their promotion: never a stall, however long they wait.
        if (!failing) expect(fleet.events.filter((e) => e.type === "RolloutStalled")).toEqual([]);
      }),
      params,
    );
  });

  test("18: waves: no old copy of a wave is replaced while an earlier wave still has old copies", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", "c"), { minLength: 2, maxLength: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 1 }),
        fc.integer({ min: 1, max: 2 }),
        fc.boolean(),
        (zones, replicas, maxSurge, maxUnavailable, failing) => {
          const fleet = new SimulatedFleet();
          zones.forEach((zone, i) => fleet.connect({ name: `node-${i}`, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: { zone } }));
          const waves = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];
          const apply = (v: string): Command => ({ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ args: [v], replicas, checks: [check], update: { maxSurge, maxUnavailable, waves } }) });
          fleet.turn([apply("v1")]);
          fleet.settle();
          if (failing) fleet.failingChecks.add("web");
          const waveOfCopy = (i: Instance) => waveOf(waves.map((w) => w.nodeSelector), i.node === null ? undefined : fleet.state.nodes.get(i.node));
          fleet.onTurn = (r) => {
            const oldLeft = web(fleet).filter((i) => i.generation === 1 && i.desired === "run");
            for (const e of r.events) {
              if (e.type !== "InstanceTransitioned" || e.event.type !== "stop") continue;
              const stopped = fleet.state.instances.get(e.id);
              if (!stopped || stopped.generation !== 1) continue;
              const w = waveOfCopy(stopped);
              const earlier = oldLeft.filter((i) => waveOfCopy(i) < w);
              if (earlier.length > 0) throw new Error(`${e.id} (wave ${w + 1}) replaced while ${earlier.map((i) => i.id)} of an earlier wave still run`);
            }
          };
          fleet.turn([apply("v2")]);
          fleet.advance(60_000);
          fleet.settle();
          if (!failing) expect(web(fleet).filter((i) => i.desired === "run").every((i) => i.generation === 2)).toBe(true);
        },
      ),
      params,
    );
  });

  test("18: an undo, whenever it comes in a rollout, stops no copy of the spec it goes back to, and converges to it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 20_000 }), fc.boolean(), (replicas, maxSurge, maxUnavailable, undoAfterMs, failing) => {
        fc.pre(maxSurge + maxUnavailable > 0);
        const { fleet, apply } = rolledOut(replicas, { maxSurge, maxUnavailable });
        if (failing) fleet.failingChecks.add("web");
        fleet.turn([apply("v2")]);
        fleet.advance(undoAfterMs);
        fleet.failingChecks.delete("web");
        fleet.onTurn = (r) => {
          const kept = r.plan?.stop.filter((x) => fleet.state.instances.get(x.instance)?.generation === 1 && fleet.state.instances.get(x.instance)?.state !== "failed") ?? [];
          if (kept.length > 0) throw new Error(`the undo stopped ${kept.map((x) => x.instance)}, which run the spec it goes back to`);
        };
        expect(fleet.turn([{ type: "RollbackWorkload", name: "web" }]).decisions[0]!.rejection).toBeUndefined();
        fleet.advance(30_000);
        fleet.settle();
        const w = fleet.state.workloads.get("web")!;
        expect(w.spec.args).toEqual(["v1"]);
        const left = web(fleet).filter((i) => i.desired === "run");
        expect(left.filter((i) => i.generation === 2)).toEqual([]);
        expect(left.filter((i) => i.state === "running")).toHaveLength(replicas);
      }),
      params,
    );
  });

  test("18: after an auto-revert the workload converges to the last completed spec, and no copy of the failed spec remains", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), (replicas, maxSurge, maxUnavailable, canary) => {
        fc.pre(maxSurge + maxUnavailable > 0);
        const { fleet, apply } = rolledOut(replicas, { maxSurge, maxUnavailable, canary, autoRevert: true }, { progressDeadline: { seconds: 20, nanos: 0 } });
        fleet.failingChecks.add("web");
        // The turn that reverts stops no copy of the restored spec (only the failed spec's go).
        fleet.onTurn = (r) => {
          const good = r.plan?.revert.length ? r.plan.stop.filter((x) => fleet.state.instances.get(x.instance)?.generation === 1) : [];
          if (good.length > 0) throw new Error(`the reverting turn also stopped ${good.map((x) => x.instance)}, of the restored spec`);
        };
        fleet.turn([apply("v2")]);
        fleet.advance(60_000);
        fleet.settle();
        const w = fleet.state.workloads.get("web")!;
        expect(w.spec.args).toEqual(["v1"]);
        expect(w.quarantined.map((q) => q.spec.args)).toEqual([["v2"]]);
        const left = web(fleet).filter((i) => i.desired === "run");
        expect(left.filter((i) => i.generation === 2)).toEqual([]);
        expect(left.filter((i) => i.state === "running")).toHaveLength(replicas);
      }),
      params,
    );
  });
});

/** `tessera sim` scenarios as a user writes them: groups, a workload mix, failures within a minute. */
const scenarioArb = fc
  .record({
    fleet: fc.array(fc.record({ count: fc.integer({ min: 1, max: 3 }), node: nodeArb }), { minLength: 1, maxLength: 3 }),
    workloads: fc.array(fc.record({ count: fc.integer({ min: 1, max: 2 }), w: anyWorkloadArb }), { minLength: 1, maxLength: 3 }),
    failures: fc.array(
      fc.record({ second: fc.integer({ min: 0, max: 60 }), kind: fc.constantFrom("kill", "restore", "crash"), group: fc.nat(), count: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), pick: fc.nat() }),
      { maxLength: 4 },
    ),
  })
  .map(({ fleet, workloads, failures }) => {
    const groups = fleet.map(({ count, node }, i) => ({ name: `g${i}`, count, cpu_millis: node.cpu, memory_mb: node.mem, labels: { zone: node.zone } }));
    const mix = workloads.map(({ count, w }, i) => ({
      name: `w${i}`,
      count,
      kind: w.kind,
      ...(w.kind === "service" ? { replicas: w.replicas } : w.kind === "batch" ? { completions: w.completions, parallelism: w.parallelism } : {}),
      resources: { cpu_millis: w.cpu, memory_mb: w.mem },
      node_selector: w.zone ? { zone: w.zone } : {},
    }));
    // Crashes name copies of services and batches (a system workload's are numbered as nodes take them).
    const copiesOf = (m: (typeof mix)[number]) => ("replicas" in m ? m.replicas : "completions" in m ? m.completions : 0);
    const replicas = mix.flatMap((m) => workloadNames(m).flatMap((name) => Array.from({ length: copiesOf(m) }, (_, k) => `${name}-${k}`)));
    const events = failures.flatMap((f) => {
      const at = `${f.second}s`;
      if (f.kind === "crash") return replicas.length === 0 ? [] : [{ at, crash: replicas[f.pick % replicas.length]! }];
      const g = groups[f.group % groups.length]!;
      return [{ at, [f.kind]: f.count === undefined ? { group: g.name } : { group: g.name, count: Math.min(f.count, g.count) } }];
    });
    return { fleet: groups, workloads: mix, failures: events };
  });

describe("tessera sim over random scenarios", () => {
  test("2, 12: no node ends over capacity; every desired replica ends placed or pending with its reason", () => {
    fc.assert(
      fc.property(scenarioArb, (doc) => {
        const parsed = parseScenario(doc);
        if ("problems" in parsed) throw new Error(`refused: ${JSON.stringify(parsed.problems)}`);
        for (const r of simulate(parsed.scenario).strategies) {
          for (const n of r.nodes) {
            expect(n.cpuMillis.used).toBeLessThanOrEqual(n.cpuMillis.capacity);
            expect(n.memoryMb.used).toBeLessThanOrEqual(n.memoryMb.capacity);
          }
          expect(r.placed + r.unschedulable).toBe(r.desired);
          expect(r.pending.reduce((n, p) => n + p.replicas, 0)).toBe(r.unschedulable);
        }
      }),
      // Each run simulates two fleets for a minute or two of ticks: fewer runs keep it fast.
      { ...params, numRuns: Math.ceil(RUNS / 4) },
    );
  });
});
