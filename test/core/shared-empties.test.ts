import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { noneYet, sharingEmpties } from "../../src/core/model/shared-empties.js";
import { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { evolve } from "../../src/core/events/evolve.js";
import { emptyState } from "../../src/core/model/cluster-state.js";

/** Every empty array and empty plain object in `value`, at any depth. */
function empties(value: unknown, out: object[] = []): object[] {
  if (Array.isArray(value)) {
    if (value.length === 0) out.push(value);
    for (const v of value) empties(v, out);
  } else if (value !== null && typeof value === "object") {
    if (Object.keys(value).length === 0) out.push(value);
    for (const v of Object.values(value)) empties(v, out);
  }
  return out;
}

describe("sharingEmpties", () => {
  test("any JSON value: equal to what it was given, which it leaves as it was, and every empty container one of two shared ones", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const before = structuredClone(value);
        const shared = sharingEmpties(value);
        expect(shared).toEqual(before);
        expect(value).toEqual(before);
        expect(new Set(empties(shared)).size).toBeLessThanOrEqual(2);
      }),
    );
  });

  test("a decoded spec: its nine empty fields become the shared ones, what holds something is kept as it was", () => {
    const spec = WorkloadSpec.fromPartial({ command: "/bin/sleep", args: ["60"], resources: { cpuMillis: 100, memoryMb: 64 } });
    const shared = sharingEmpties(spec);
    expect(shared).not.toBe(spec);
    expect(shared.args).toBe(spec.args);
    expect(shared.resources).toBe(spec.resources);
    expect(shared.env).toBe(sharingEmpties({}));
    expect(shared.checks).toBe(noneYet());
    expect(sharingEmpties(shared)).toBe(shared);
  });

  test("the shared empties refuse a write instead of passing it to every record that holds them", () => {
    expect(() => noneYet<string>().push("x")).toThrow(TypeError);
    expect(() => {
      (sharingEmpties({}) as Record<string, string>).key = "x";
    }).toThrow(TypeError);
  });
});

test("a forced apply that lifts a workload's only quarantine leaves it the shared empty list, as any applied record", () => {
  const state = emptyState();
  const spec = WorkloadSpec.fromPartial({ command: "/bin/sleep", args: ["60"], replicas: 1, resources: { cpuMillis: 100, memoryMb: 64 } });
  const applied = (forced?: true): ClusterEvent => ({ type: "WorkloadApplied", at: 1, workload: { name: "w", labels: {}, spec, generation: 1, templateGeneration: 1 }, forced });
  evolve(state, applied());
  state.workloads.get("w")!.quarantined = [{ spec, generation: 1, reason: "rolled back" }];
  evolve(state, applied(true));
  expect(state.workloads.get("w")!.quarantined).toBe(noneYet());
});
