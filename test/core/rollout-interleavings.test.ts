/**
 * Rollouts used in sequence, through the pure core on the simulated fleet (issue 26): a spec
 * arriving while the last one's copies still soak keeps the disruption budget, and so does one
 * with fewer replicas, for the copies past them that serve, and one replacing a check-less spec
 * whose copies crash just after they turn Ready; a wave's
 * replacements stay in the waves that have started; a static-port copy on its only node is
 * stopped before its replacement starts when the budget allows it, and says why it waits when not;
 * a drain while a canary is held moves old copies as copies of the last completed spec.
 */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/model/cluster-state.js";
import { isReady } from "../../src/core/model/cluster-status.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { waveOf } from "../../src/core/reconcile/waves.js";
import type { Check, UpdateStrategy, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const READY_CHECK: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 8080, portName: "" } } };
const BIG = { cpuMillis: 64_000, memoryMb: 65_536 };
const seconds = (s: number) => ({ seconds: s, nanos: 0 });

const web = (version: string, update: Partial<UpdateStrategy>, over: Partial<WorkloadSpec> = {}) => spec({ args: [version], replicas: 3, checks: [READY_CHECK], update: { waves: [], ...update }, ...over });
const apply = (f: SimulatedFleet, s: WorkloadSpec) => f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: s }]).decisions[0]!;
const wanted = (f: SimulatedFleet) => [...f.state.instances.values()].filter((i) => i.workload === "web" && i.desired === "run");
/** Replicas with a Ready copy that serves (wanted running): what the budget protects. */
const serving = (f: SimulatedFleet) => new Set(wanted(f).filter(isReady).map((i) => i.index)).size;

describe("the disruption budget under applies arriving mid-rollout", () => {
  test("a spec applied while the last one's copies still soak stops no Ready copy below replicas − max_unavailable", () => {
    const f = new SimulatedFleet();
    for (const name of ["n1", "n2", "n3"]) f.connect({ name, capacity: BIG, labels: {} });
    f.settle();
    const update = { maxSurge: 1, maxUnavailable: 0, minHealthyTime: seconds(20) };
    apply(f, web("v1", update));
    f.settle();
    expect(serving(f)).toBe(3);
    f.advance(3_000);
    const low: string[] = [];
    f.onTurn = () => {
      if (serving(f) < 3) low.push(`${serving(f)} serving at +${f.now}`);
    };
    apply(f, web("v2", update));
    f.advance(120_000);
    f.settle();
    expect(low).toEqual([]);
    expect(wanted(f).map((i) => i.generation)).toEqual([2, 2, 2]);
  });

  test("specs applied in a row: of a slot's old copies the one that serves stays, and the budget counts it", () => {
    const f = new SimulatedFleet();
    // A static port: one copy a node, so each replacement waits for its old copy's place.
    const ports = { address: "10.0.0.1", range: { from: 20000, to: 20009 }, reserved: [] };
    for (const name of ["n1", "n2", "n3"]) f.connect({ name, capacity: BIG, labels: {}, ports });
    f.settle();
    const pinned = (v: string) => web(v, { maxSurge: 1, maxUnavailable: 1 }, { ports: [{ name: "http", static: 18080, to: undefined, protocol: "" }] });
    apply(f, pinned("v1"));
    f.settle();
    const low: number[] = [];
    f.onTurn = () => {
      if (serving(f) < 2) low.push(serving(f));
    };
    for (const v of ["v2", "v3", "v4"]) apply(f, pinned(v));
    f.settle();
    expect(low).toEqual([]);
    expect(wanted(f).map((i) => `${i.generation}:${i.state}`)).toEqual(["4:running", "4:running", "4:running"]);
  });

  test("a spec with fewer replicas that never turns Ready keeps the copy past them that serves, until the slots kept serve", () => {
    const f = new SimulatedFleet();
    f.checksPass = (start) => start.spec.args[0] !== "never-ready";
    for (const name of ["n1", "n2", "n3"]) f.connect({ name, capacity: BIG, labels: {} });
    f.settle();
    const update = { maxSurge: 1, maxUnavailable: 0 };
    apply(f, web("v1", update, { replicas: 2 }));
    f.settle();
    // Slot 0's copy has just crashed: slot 1's, past the replicas asked next, is the one that serves.
    f.crash(wanted(f).find((i) => i.index === 0)!.id);
    f.turn();
    expect(serving(f)).toBe(1);
    const low: string[] = [];
    f.onTurn = () => {
      if (serving(f) < 1) low.push(`${serving(f)} serving at +${f.now}`);
    };
    apply(f, web("never-ready", update, { replicas: 1 }));
    f.advance(60_000);
    expect(low).toEqual([]);
    expect(f.plans.at(-1)!.skip.find((s) => s.gate === "disruption")).toMatchObject({ instance: "web-1.2", reason: "scaled down to 1, kept while max_unavailable: 0 available, floor 1" });
    // A spec that turns Ready: once slot 0's copy of it is available, the one past the replicas goes.
    apply(f, web("v3", update, { replicas: 1 }));
    f.advance(30_000);
    f.settle();
    expect(low).toEqual([]);
    expect(wanted(f).map((i) => `${i.index}:${i.generation}:${i.state}`)).toEqual(["0:3:running"]);
  });

  test("a copy of a check-less spec, barely Ready, does not count as serving for the spec with checks that replaces it", () => {
    const f = new SimulatedFleet();
    f.checksPass = (start) => start.spec.args[0] !== "never-ready";
    for (const name of ["n1", "n2", "n3"]) f.connect({ name, capacity: BIG, labels: {} });
    f.settle();
    // Without checks: Ready as they run, available after the 10 s default soak.
    const checkless = (v: string, replicas: number) => web(v, { maxSurge: 1, maxUnavailable: 0 }, { replicas, checks: [] });
    apply(f, checkless("v1", 1));
    f.settle();
    f.advance(15_000);
    // v2 (two replicas) crashes at start: its copies run, Ready for an instant, then fail.
    apply(f, checkless("v2", 2));
    f.turn();
    const v2 = wanted(f).filter((i) => i.generation === 2);
    expect(v2.map((i) => `${i.index}:${isReady(i)}`)).toEqual(["0:true", "1:true"]);
    const low: string[] = [];
    f.onTurn = () => {
      if (serving(f) < 1) low.push(`${serving(f)} serving at +${f.now}`);
    };
    apply(f, web("never-ready", { maxSurge: 0, maxUnavailable: 1 }, { replicas: 2 }));
    for (const i of v2) f.crash(i.id);
    f.advance(60_000);
    expect(low).toEqual([]);
    expect(wanted(f).filter((i) => i.generation === 1 && isReady(i))).toHaveLength(1);
  });
});

describe("waves", () => {
  const waves = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];

  test("a wave's replacements go to the wave's nodes: none of the new version runs in a wave not started", () => {
    const f = new SimulatedFleet();
    for (const [name, zone] of [["a1", "a"], ["b1", "b"], ["b2", "b"]] as const) f.connect({ name, capacity: BIG, labels: { zone } });
    f.settle();
    const update = { maxSurge: 1, maxUnavailable: 0, waves };
    apply(f, web("v1", update, { replicas: 2 }));
    f.settle();
    expect(wanted(f).map((i) => i.node).sort()).toEqual(["a1", "b1"]);
    const placed: string[] = [];
    f.onTurn = (r) => {
      for (const e of r.events) {
        if (e.type !== "InstanceTransitioned" || e.event.type !== "place") continue;
        const w = f.state.workloads.get("web")!;
        placed.push(`${e.event.node} in wave ${waveOf([{ zone: "a" }, { zone: "b" }], f.state.nodes.get(e.event.node)) + 1}, started ${w.wave + 1}`);
      }
    };
    apply(f, web("v2", update, { replicas: 2 }));
    f.settle();
    // Wave 1's replacement went to a1 (b2, emptier, is in wave 2); then wave 2's to zone b.
    expect(placed).toEqual(["a1 in wave 1, started 1", "b2 in wave 2, started 2"]);
    expect(wanted(f).map((i) => i.generation)).toEqual([2, 2]);
  });

  test("a replacement with no room in the started waves waits, saying so", () => {
    const f = new SimulatedFleet();
    // a1 takes one copy only: the surge copy of wave 1 fits nowhere in zone a.
    f.connect({ name: "a1", capacity: { cpuMillis: 100, memoryMb: 1024 }, labels: { zone: "a" } });
    f.connect({ name: "b1", capacity: BIG, labels: { zone: "b" } });
    f.settle();
    const update = { maxSurge: 1, maxUnavailable: 0, waves };
    apply(f, web("v1", update, { replicas: 2 }));
    f.settle();
    apply(f, web("v2", update, { replicas: 2 }));
    f.settle();
    const pending = wanted(f).filter((i) => i.state === "pending");
    expect(pending.map((i) => [i.generation, i.reason])).toEqual([[2, "no node fits (1 in rollout wave 2 of 2, not started, 1 short of cpu); web-1.2 would have to stop first to make room on a1, and max_unavailable 0 keeps it running"]]);
    expect(wanted(f).filter((i) => i.generation === 1 && isReady(i))).toHaveLength(2);
  });
});

describe("a static port on the only node that fits", () => {
  const NODE_PORTS = { address: "10.0.0.1", range: { from: 20000, to: 20009 }, reserved: [] };
  /** p1: one copy holding port 18080, on the one node its selector matches (b1). */
  function pinned(update: Partial<UpdateStrategy> | undefined) {
    const f = new SimulatedFleet();
    f.connect({ name: "b1", capacity: BIG, labels: { pool: "p" }, ports: NODE_PORTS });
    f.connect({ name: "b2", capacity: BIG, labels: {}, ports: NODE_PORTS });
    f.settle();
    const p1 = (version: string): WorkloadSpec =>
      spec({ args: [version], replicas: 1, nodeSelector: { pool: "p" }, ports: [{ name: "http", static: 18080, to: undefined, protocol: "" }], update: update === undefined ? undefined : { waves: [], ...update } });
    const applyP1 = (version: string) => f.turn([{ type: "ApplyWorkload", name: "p1", labels: {}, spec: p1(version) }]);
    applyP1("v1");
    f.settle();
    return { f, applyP1 };
  }
  const p1Copies = (f: SimulatedFleet) => [...f.state.instances.values()].filter((i) => i.workload === "p1" && i.desired === "run");

  test("under the default update (max_unavailable 1) the old copy stops first, then the new one starts", () => {
    const { f, applyP1 } = pinned(undefined);
    applyP1("v2");
    f.settle();
    expect(p1Copies(f).map((i) => `${i.generation}:${i.state}:${i.node}`)).toEqual(["2:running:b1"]);
    const stop = f.events.find((e) => e.type === "InstanceTransitioned" && e.event.type === "stop");
    expect(stop?.type === "InstanceTransitioned" && stop.event.type === "stop" && stop.event.reason).toBe("update: stopped before its replacement starts (it needs its place on b1)");
  });

  test("a copy still soaking stops first too when the floor allows it: it is not counted among the available ones", () => {
    const { f, applyP1 } = pinned({ minHealthyTime: seconds(30) });
    applyP1("v2");
    f.advance(2_000);
    f.settle();
    expect(p1Copies(f).map((i) => `${i.generation}:${i.state}:${i.node}`)).toEqual(["2:running:b1"]);
  });

  test("under max_unavailable 0 the new copy waits, saying what holds it", () => {
    const { f, applyP1 } = pinned({ maxSurge: 1, maxUnavailable: 0 });
    applyP1("v2");
    f.advance(10_000);
    f.settle();
    expect(p1Copies(f).map((i) => `${i.generation}:${i.state}`)).toEqual(["1:running", "2:pending"]);
    expect(p1Copies(f)[1]!.reason).toBe("no node fits (1 lacks label pool=p, 1 port 18080 taken on b1 by p1-0); p1-0.1 would have to stop first to make room on b1, and max_unavailable 0 keeps it running");
    expect(f.plans.at(-1)!.skip.find((s) => s.workload === "p1" && s.gate === "disruption")?.instance).toBe("p1-0.1");
  });
});

describe("drains and restarts while a canary is held", () => {
  /** web v1 on n1..n3, one copy each; v2's canary (slot 0) held, not promoted. */
  function held(update: Partial<UpdateStrategy> = {}) {
    const f = new SimulatedFleet();
    for (const name of ["n1", "n2", "n3"]) f.connect({ name, capacity: BIG, labels: {} });
    f.settle();
    apply(f, web("v1", { canary: 1, ...update }));
    f.settle();
    apply(f, web("v2", { canary: 1, ...update }));
    f.settle();
    return f;
  }
  /** Wanted copies as `slot:version@node`, the version read from the spec their generation ran. */
  const layout = (f: SimulatedFleet) =>
    wanted(f)
      .map((i) => `${i.index}:${versionOf(f, i)}@${i.node}`)
      .sort();
  function versionOf(f: SimulatedFleet, i: Instance): string {
    const applied = f.events.filter((e) => e.type === "WorkloadApplied" && e.workload.generation <= i.generation).at(-1);
    return applied?.type === "WorkloadApplied" ? applied.workload.spec.args[0]! : "?";
  }

  test.each([
    ["an old copy only", 1],
    ["the old copy beside the canary", 0],
  ])("moves %s, as a copy of the last completed spec, and the canary stays the only new copy", (_what, slot) => {
    const f = held();
    const oldCopy = wanted(f).find((i) => i.index === slot && i.generation === 1)!;
    const node = oldCopy.node!;
    const before = layout(f).filter((l) => !l.endsWith(`@${node}`) || l.includes(":v2@"));
    expect(wanted(f).filter((i) => i.generation === 2)).toHaveLength(1);
    const started: string[] = [];
    f.onTurn = (r) => {
      for (const e of r.effects) if (e.type === "StartInstance") started.push(`${e.instanceId} ${e.spec.args[0]} generation ${e.generation}`);
    };
    f.turn([{ type: "DrainNode", node }]);
    f.advance(5_000);
    f.settle();
    const after = layout(f);
    expect(after.filter((l) => l.endsWith(`@${node}`) && !l.includes(":v2@"))).toEqual([]);
    expect(after.filter((l) => l.includes(":v1@"))).toHaveLength(3);
    expect(after.filter((l) => l.includes(":v2@"))).toHaveLength(1);
    for (const l of before) if (!l.endsWith(`@${node}`)) expect(after).toContain(l);
    const moved = wanted(f).find((i) => i.index === slot && i.generation === 1)!;
    expect(moved.id).not.toBe(oldCopy.id);
    // The canary too is moved when it was on that node: stopped first, then started elsewhere.
    expect(started.filter((x) => x.includes(" v1 "))).toEqual([`${moved.id} v1 generation 1`]);
    expect(started.filter((x) => !x.includes(" v1 ")).every((x) => x.startsWith("web-0.") && x.endsWith(" v2 generation 2"))).toBe(true);
    expect(f.state.workloads.get("web")!.promoted).toBe(false);
    // Promoted, the rollout goes on as before, the moved copy replaced like the others.
    f.turn([{ type: "PromoteRollout", name: "web", by: "someone" }]);
    f.advance(30_000);
    f.settle();
    expect(layout(f).map((l) => l.replace(/@.*/, ""))).toEqual(["0:v2", "1:v2", "2:v2"]);
    expect(layout(f).some((l) => l.endsWith(`@${node}`))).toBe(false);
  });

  test("a restart replaces the canary stop-first: never two copies of the new spec before the promotion", () => {
    // Room to surge: the canary would otherwise be replaced beside itself.
    const f = held({ maxSurge: 2 });
    const most: number[] = [];
    f.onTurn = () => {
      most.push(wanted(f).filter((i) => i.generation === 2).length);
    };
    const canary = wanted(f).find((i) => i.generation === 2)!;
    f.turn([{ type: "RestartWorkload", name: "web" }]);
    f.advance(5_000);
    f.settle();
    expect(Math.max(...most)).toBe(1);
    expect(wanted(f).filter((i) => i.generation === 2).map((i) => i.id)).not.toEqual([canary.id]);
    expect(wanted(f).filter((i) => i.generation === 1)).toHaveLength(3);
  });

  test("without a completed rollout to go back to, the old copies keep the spec before the change", () => {
    const f = new SimulatedFleet();
    for (const name of ["n1", "n2", "n3"]) f.connect({ name, capacity: BIG, labels: {} });
    f.settle();
    // v2 comes before v1's copies have soaked: v1's rollout never completes.
    const update = { canary: 1, minHealthyTime: seconds(10) };
    apply(f, web("v1", update));
    f.settle();
    apply(f, web("v2", update));
    f.settle();
    expect(f.state.workloads.get("web")!.stable).toBeNull();
    const canary = wanted(f).find((i) => i.generation === 2)!;
    const node = wanted(f).find((i) => i.generation === 1 && i.node !== canary.node)!.node!;
    const started: string[] = [];
    f.onTurn = (r) => {
      for (const e of r.effects) if (e.type === "StartInstance") started.push(`${e.spec.args[0]} generation ${e.generation}`);
    };
    f.turn([{ type: "DrainNode", node }]);
    // The moved copy soaks too before the drained one goes.
    f.advance(15_000);
    f.settle();
    expect(wanted(f).filter((i) => i.node === node)).toEqual([]);
    expect(started).toEqual(["v1 generation 1"]);
    expect(wanted(f).map((i) => i.generation).sort()).toEqual([1, 1, 1, 2]);
  });
});
