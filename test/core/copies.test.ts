/** Table tests for the questions the reconciler asks of a workload's copies (copies.ts), each answered once. */
import { describe, expect, test } from "bun:test";
import { emptyState, type Instance, type Workload } from "../../src/core/model/cluster-state.js";
import { resolveSpec } from "../../src/core/model/spec.js";
import { erasBefore } from "../../src/core/model/template-eras.js";
import { awaitsRollout, byNode, bySlot, dueForReplacement, isOutdated, newestCurrentFailure, newestFailure, nextAttempt, onDrainingNode, predatesRestart, replacementCause } from "../../src/core/reconcile/copies.js";
import { apply, created, spec, T0, workloadApplied } from "./fixtures.js";

/** The workload `web` at template generation `template`, restarted at `restartSeq`, reverted over `reverted` (inclusive). */
function web(template: number, restartSeq = 0, reverted: { from: number; to: number } | null = null): Workload {
  const state = apply(emptyState(), [workloadApplied("web", T0, { generation: Math.max(template, reverted?.to ?? 0), templateGeneration: template })]);
  const w = state.workloads.get("web")!;
  return { ...w, restartSeq, reverted, eras: erasBefore({ ...w, reverted, previousSpec: w.spec }) };
}

/** Copy `web-<index>.<seq>` of `generation`, in `state` on `node`. */
function copy(seq: number, generation = 1, over: Partial<Instance> = {}): Instance {
  const state = apply(emptyState(), [workloadApplied("web", T0), created(`web-${over.index ?? 0}.${seq}`, T0, { generation })]);
  return { ...state.instances.get(`web-${over.index ?? 0}.${seq}`)!, ...over };
}

describe("isOutdated: of an older template, or started before a restart", () => {
  test.each([
    ["current template, never restarted", web(1), copy(1, 1), false],
    ["a changed template outdates the copies of the one before", web(2), copy(1, 1), true],
    ["a copy of the new template is current", web(2), copy(3, 2), false],
    ["after a revert, copies of the reverted generations are outdated although newer", web(1, 0, { from: 2, to: 3 }), copy(4, 3), true],
    ["after a revert, copies of the restored template are current", web(1, 0, { from: 2, to: 3 }), copy(1, 1), false],
    ["a restart outdates the copies started before it", web(1, 5), copy(4, 1), true],
    ["a copy started at the restart's seq or after is current", web(1, 5), copy(5, 1), false],
  ])("%s", (_, w, c, expected) => {
    expect(isOutdated(w, c)).toBe(expected);
  });

  test("the restart guard only spares parsing the id: for every id the core makes (seq from 1), guarded and unguarded agree", () => {
    for (let restartSeq = 0; restartSeq <= 6; restartSeq++) {
      for (let seq = 1; seq <= 8; seq++) {
        const c = copy(seq);
        expect(predatesRestart(web(1, restartSeq), c)).toBe(seq < restartSeq);
      }
    }
  });
});

describe("which copies a workload's planning replaces", () => {
  const draining = new Set(["n2"]);
  test.each([
    ["current, on a Ready node", copy(1, 1, { node: "n1", state: "running" }), false, false, false],
    ["current, on a draining node: moved, not rolled out", copy(1, 1, { node: "n2", state: "running" }), true, false, true],
    ["outdated and live: rolled out", copy(1, 1, { node: "n1", state: "running" }), true, true, false],
    ["outdated and failed: not a rollout's (its failure is planned)", copy(1, 1, { node: "n1", state: "failed" }), true, false, false],
    ["not placed: on no draining node", copy(1, 1, { node: null, state: "pending" }), false, false, false],
  ])("%s", (name, c, due, rollout, drained) => {
    const w = name.startsWith("outdated") ? web(2) : web(1);
    expect(dueForReplacement(w, draining)(c)).toBe(due);
    expect(awaitsRollout(w, c)).toBe(rollout);
    expect(onDrainingNode(draining, c)).toBe(drained);
  });

  test.each<[string, Workload, Instance, ReturnType<typeof replacementCause>]>([
    ["a changed template", web(2), copy(1, 1), "update"],
    ["a restart", web(1, 5), copy(1, 1), "rollout"],
    ["neither: the copy's node is draining", web(1), copy(1, 1), "drain"],
  ])("replacementCause: %s", (_, w, c, cause) => {
    expect(replacementCause(w, c)).toBe(cause);
  });
});

describe("failures", () => {
  test("newestFailure: the failed copy of the highest seq (by number, not text), live copies aside", () => {
    const copies = [copy(9, 1, { state: "failed" }), copy(10, 1, { state: "failed" }), copy(11, 1, { state: "running" })];
    expect(newestFailure(copies)?.id).toBe("web-0.10");
    expect(newestFailure([copy(11, 1, { state: "running" })])).toBeUndefined();
  });

  test("newestCurrentFailure: an older template's failure holds no backoff", () => {
    const failed = [copy(1, 1, { state: "failed" }), copy(2, 2, { state: "failed" })];
    expect(newestCurrentFailure(web(2), failed)?.id).toBe("web-0.2");
    expect(newestCurrentFailure(web(3), failed)).toBeUndefined();
  });

  const s = { ...resolveSpec(spec()), restartResetMs: 60_000 };
  test.each([
    ["failed at once: the next attempt", T0, T0 + 1_000, 3],
    ["ran restart_reset long before failing: the backoff starts over", T0, T0 + 60_000, 0],
    ["never ran: the next attempt", null, T0, 3],
  ])("nextAttempt: %s", (_, runningSince, failedAt, attempt) => {
    expect(nextAttempt(copy(1, 1, { state: "failed", attempt: 2, runningSince, failedAt }), s)).toBe(attempt);
  });
});

describe("grouping", () => {
  test("bySlot: slots below the count, in the copies' order; a copy beyond goes to `beyond`", () => {
    const beyond: string[] = [];
    const slots = bySlot([copy(1, 1, { index: 1 }), copy(2, 1, { index: 0 }), copy(3, 1, { index: 1 }), copy(4, 1, { index: 2 })], 2, (i) => beyond.push(i.id));
    expect([...slots].map(([index, copies]) => [index, copies.map((c) => c.id)])).toEqual([
      [1, ["web-1.1", "web-1.3"]],
      [0, ["web-0.2"]],
    ]);
    expect(beyond).toEqual(["web-2.4"]);
  });

  test("byNode: copies by node; one on no node goes to `unplaced`", () => {
    const unplaced: string[] = [];
    const nodes = byNode([copy(1, 1, { node: "n1" }), copy(2, 1, { node: null }), copy(3, 1, { node: "n1" })], (i) => unplaced.push(i.id));
    expect([...nodes].map(([node, copies]) => [node, copies.map((c) => c.id)])).toEqual([["n1", ["web-0.1", "web-0.3"]]]);
    expect(unplaced).toEqual(["web-0.2"]);
  });
});
