/**
 * Rollouts used in sequence, through the pure core on the simulated fleet (issue 26): a spec
 * arriving while the last one's copies still soak keeps the disruption budget; a wave's
 * replacements stay in the waves that have started; a static-port copy on its only node is
 * stopped before its replacement starts when the budget allows it, and says why it waits when not.
 */
import { describe, expect, test } from "bun:test";
import type { Instance } from "../../src/core/cluster-state.js";
import { isReady } from "../../src/core/cluster-status.js";
import { SimulatedFleet } from "../../src/core/simulated-fleet.js";
import { waveOf } from "../../src/core/waves.js";
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
    expect(pending.map((i) => [i.generation, i.reason])).toEqual([[2, "no node fits (1 in rollout wave 2 of 2, not started, 1 short of cpu)"]]);
    expect(wanted(f).filter((i) => i.generation === 1 && isReady(i))).toHaveLength(2);
  });
});
