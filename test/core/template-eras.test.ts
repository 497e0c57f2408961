/** Template eras (model/template-eras.ts): which template a copy of each generation runs, and how few eras a workload keeps. */
import { describe, expect, test } from "bun:test";
import { emptyState, type Instance, type TemplateEra } from "../../src/core/model/cluster-state.js";
import { eraOf, eraRunning, nextEras } from "../../src/core/model/template-eras.js";
import { apply, created, spec, T0, workloadApplied } from "./fixtures.js";

const era = (from: number, template: number, version: string): TemplateEra => ({ from, template, spec: spec({ args: [version] }) });
const copyOf = (generation: number): Instance => apply(emptyState(), [workloadApplied("web", T0), created("web-0.1", T0, { generation })]).instances.get("web-0.1")!;
// v2 at 2, v3 at 3, back to v2 at 4 (v2's copies kept), v5 at 5.
const eras = [era(2, 2, "v2"), era(3, 3, "v3"), era(4, 2, "v2"), era(5, 5, "v5")];

describe("eraOf: the era a copy was made in", () => {
  test.each([
    [1, undefined],
    [2, 2],
    [3, 3],
    [4, 2],
    [9, 5],
  ])("generation %p runs template %p", (generation, template) => {
    expect(eraOf(eras, generation)?.template).toBe(template);
  });
});

test("eraRunning: the newest era whose copies run a spec's template; none for a new one", () => {
  expect(eraRunning(eras, spec({ args: ["v2"] }))?.from).toBe(4);
  expect(eraRunning(eras, spec({ args: ["v3"], replicas: 7 }))?.template).toBe(3);
  expect(eraRunning(eras, spec({ args: ["v6"] }))).toBeUndefined();
});

describe("nextEras: bounded by the copies, the last two, the last completed spec's and the next", () => {
  test.each([
    ["no copy left: the last two, then the next", [], undefined, [4, 5, 6]],
    ["a copy of generation 2 keeps its era", [2], undefined, [2, 4, 5, 6]],
    ["the last completed template (v3) keeps its newest era", [], 3, [3, 4, 5, 6]],
    ["copies of several eras keep each", [2, 3, 4], 2, [2, 3, 4, 5, 6]],
  ] as const)("%s", (_, generations, stable, froms) => {
    expect(nextEras(eras, generations.map(copyOf), stable, era(6, 6, "v6")).map((e) => e.from)).toEqual([...froms]);
  });
});
