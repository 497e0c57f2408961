/** A workload's row keeps its template eras (which template each generation's copies run), and a row from before they were kept gets them from what it kept. */
import { expect, test } from "bun:test";
import { workloadFromRow, workloadToRow } from "../../src/control/store/rows.js";
import { runsCurrentTemplate } from "../../src/core/model/cluster-status.js";
import { emptyState, type Instance, type Workload } from "../../src/core/model/cluster-state.js";
import { apply, created, spec, T0, workloadApplied } from "../core/fixtures.js";

const v = (version: string) => spec({ args: [version] });
const copyOf = (generation: number): Instance => apply(emptyState(), [workloadApplied("web", T0), created("web-0.1", T0, { generation })]).instances.get("web-0.1")!;

test("the eras are written and read back as they were", () => {
  const w: Workload = { ...apply(emptyState(), [workloadApplied("web", T0)]).workloads.get("web")!, generation: 4, templateGeneration: 2 };
  w.eras = [{ from: 2, template: 2, spec: v("v2") }, { from: 3, template: 3, spec: v("v3") }, { from: 4, template: 2, spec: v("v2") }];
  expect(workloadFromRow(workloadToRow(w)).eras).toEqual(w.eras);
});

test("a row from before eras: copies from its template generation on are current, but those of the range gone back from", () => {
  const w: Workload = { ...apply(emptyState(), [workloadApplied("web", T0)]).workloads.get("web")!, generation: 4, templateGeneration: 1, reverted: { from: 2, to: 3 }, previousSpec: v("v2") };
  const old = workloadFromRow({ ...workloadToRow(w), eras: [] });
  expect([1, 2, 3, 4].map((g) => runsCurrentTemplate(old, copyOf(g)))).toEqual([true, false, false, true]);
});
