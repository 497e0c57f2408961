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
