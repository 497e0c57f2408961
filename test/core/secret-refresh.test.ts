/**
 * on_change (#30, Nomad's change_mode): under SIGNAL or NONE a new version of what a workload's
 * copies mount is written in place in the copies placed to run (a RefreshSecrets to their
 * agent, with SIGHUP under SIGNAL), none replaced; under RESTART (or unset) it is a rollout. A
 * hello sends the versions again (the agent writes nothing for those it holds), since a
 * refresh sent while the stream was down was lost.
 */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import type { Effect } from "../../src/core/model/effects.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { OnChange, type WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { spec } from "./fixtures.js";

const put = (digest: string, create = false): Command => ({ type: "PutSecret", kind: "config", name: "app", keys: [{ key: "app.conf", size: 3 }], digest, payload: digest, create, by: "admin" });

function fleet(over: Partial<WorkloadSpec>): SimulatedFleet {
  const f = new SimulatedFleet();
  f.connect({ name: "n1", capacity: { cpuMillis: 8_000, memoryMb: 8_192 }, labels: {} });
  f.turn([put("d1", true)]);
  f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 2, configs: [{ name: "app", mountPath: "" }], ...over }) }]);
  f.settle();
  return f;
}

const running = (f: SimulatedFleet) => [...f.state.instances.values()].filter((i) => i.desired === "run" && i.state === "running").map((i) => i.id);
const refreshes = (effects: Effect[]) => effects.flatMap((e) => (e.type === "RefreshSecrets" ? [[e.instanceId, e.spec.secretVersions["config/app"], e.signal]] : []));

describe("a new version under on_change", () => {
  test.each([
    ["SIGNAL", OnChange.ON_CHANGE_SIGNAL, true],
    ["NONE", OnChange.ON_CHANGE_NONE, false],
  ])("%s: written in place in each running copy, none replaced, the rollout complete at once", (_, onChange, signal) => {
    const f = fleet({ onChange });
    const before = running(f);
    const turn = f.turn([put("d2")]);
    expect(refreshes(turn.effects)).toEqual(before.map((id) => [id, 2, signal]));
    f.settle();
    const w = f.state.workloads.get("web")!;
    expect([w.generation, w.templateGeneration, w.spec.secretVersions]).toEqual([2, 1, { "config/app": 2 }]);
    expect(running(f)).toEqual(before);
    // The same values again: no version, no refresh.
    expect(refreshes(f.turn([put("d2")]).effects)).toEqual([]);
  });

  test("unset (RESTART): no refresh, a rollout replaces the copies", () => {
    const f = fleet({});
    const before = running(f);
    expect(refreshes(f.turn([put("d2")]).effects)).toEqual([]);
    f.settle();
    f.advance(30_000);
    f.settle();
    const w = f.state.workloads.get("web")!;
    expect([w.generation, w.templateGeneration]).toEqual([2, 2]);
    expect(running(f).some((id) => before.includes(id))).toBe(false);
  });

  test("under SIGNAL a new version is no revision: undo goes back to a revision's spec, and sends its version in place", () => {
    const f = fleet({ onChange: OnChange.ON_CHANGE_SIGNAL });
    const first = f.state.workloads.get("web")!.spec;
    f.turn([put("d2")]);
    f.settle();
    expect(f.turn([{ type: "RollbackWorkload", name: "web" }]).decisions[0]!.rejection).toMatchObject({ kind: "NothingToUndo" });
    const undo = f.turn([{ type: "RollbackWorkload", name: "web", to: { revision: 1, spec: first } }]);
    expect(refreshes(undo.effects).map(([, version]) => version)).toEqual([1, 1]);
  });

  test("a hello sends the running copies their versions again; none under RESTART", () => {
    for (const [onChange, sent] of [[OnChange.ON_CHANGE_NONE, 2], [undefined, 0]] as const) {
      const f = fleet(onChange === undefined ? {} : { onChange });
      f.restart(1_000, 100);
      const hello = f.turn();
      expect(refreshes(hello.effects)).toHaveLength(sent);
    }
  });

  test("changing on_change alone replaces no copy; an unknown mode is refused naming the field", () => {
    const f = fleet({});
    const before = running(f);
    f.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 2, configs: [{ name: "app", mountPath: "" }], onChange: OnChange.ON_CHANGE_RESTART }) }]);
    f.settle();
    expect([f.state.workloads.get("web")!.templateGeneration, running(f)]).toEqual([1, before]);
    expect(validateWorkload({ name: "web", labels: {}, spec: spec({ onChange: 9 as OnChange }) })).toContainEqual(expect.objectContaining({ field: "workload.spec.on_change" }));
  });
});
