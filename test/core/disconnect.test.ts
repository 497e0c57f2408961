/**
 * The disconnect block (#29 item 6): how long a silent node's copies are kept before they are
 * replaced, replace: false for a singleton that waits for its node, and the fields' errors.
 * The agent's own deadline (stop_on_client_after) is tested in test/agent/disconnect-deadline.test.ts.
 */
import { describe, expect, test } from "bun:test";
import type { Disconnect } from "../../src/gen/tessera/v1/types.js";
import { disconnectRules } from "../../src/core/model/disconnect.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { disconnectGate } from "../../src/core/reconcile/gates.js";
import { replay } from "../../src/core/events/evolve.js";
import { DEFAULT_POLICY, isEmptyPlan, nextWakeup, plan } from "../../src/core/reconcile/reconcile.js";
import { agentReports, apply, heartbeat, nodeConnected, reconcileOnce, report, spec, T0, workloadApplied } from "./fixtures.js";

const s = (seconds: number) => ({ seconds, nanos: 0 });
const { offlineAfterMs } = DEFAULT_POLICY;

describe("disconnectGate", () => {
  const silentSince = T0;
  test.each([
    { name: "unset: lost as soon as Offline", d: undefined, now: T0 + offlineAfterMs + 1, held: undefined },
    { name: "lost_after not yet passed", d: { lostAfter: s(60) }, now: T0 + 60_000, held: { gate: "disconnect", until: T0 + 60_001 } },
    { name: "lost_after passed", d: { lostAfter: s(60) }, now: T0 + 60_001, held: undefined },
    { name: "lost_after below the Offline threshold: lost once Offline", d: { lostAfter: s(1) }, now: T0 + offlineAfterMs + 1, held: undefined },
    { name: "replace false: held however long", d: { replace: false }, now: T0 + 7 * 86_400_000, held: { gate: "disconnect" } },
  ])("$name", ({ d, now, held }) => {
    const rules = disconnectRules(spec(d === undefined ? {} : { disconnect: d as Disconnect }));
    const hold = disconnectGate(rules, silentSince, now);
    if (held === undefined) expect(hold).toBeUndefined();
    else expect(hold).toMatchObject(held);
  });
});

/** Copy web-0.1 runs on node a; node b stays heard; a falls silent at T0. */
function silentNode(disconnect: Disconnect | undefined) {
  const state = replay([nodeConnected("a", T0), nodeConnected("b", T0), workloadApplied("web", T0, { spec: spec(disconnect ? { disconnect } : {}) })]);
  reconcileOnce(state, T0);
  const id = [...state.instances.values()].find((i) => i.node !== null)!.id;
  const node = state.instances.get(id)!.node!;
  const other = node === "a" ? "b" : "a";
  agentReports(state, T0, report(node, id, "provisioning"), report(node, id, "running"));
  /** The other node keeps its heartbeats up to `at`. */
  const keepHeard = (at: number) => apply(state, [heartbeat(other, at)]);
  return { state, id, node, other, keepHeard };
}

describe("a silent node's copies under the disconnect block", () => {
  test("lost_after longer than the Offline threshold: kept (held, with a wake-up) until then, then lost and replaced", () => {
    const { state, id, node, other, keepHeard } = silentNode({ lostAfter: s(30) });
    const offline = T0 + offlineAfterMs + 1;
    keepHeard(offline);
    const first = reconcileOnce(state, offline).plan;
    expect(first.markLost).toEqual([]);
    expect(first.place).toEqual([]);
    expect(first.skip).toContainEqual(expect.objectContaining({ gate: "disconnect", instance: id, until: T0 + 30_001 }));
    expect(nextWakeup(state, DEFAULT_POLICY, first)).toBeLessThanOrEqual(T0 + 30_001);
    keepHeard(T0 + 30_001);
    const later = reconcileOnce(state, T0 + 30_001).plan;
    expect(later.markLost).toEqual([{ instance: id, node }]);
    expect(later.place).toEqual([expect.objectContaining({ workload: "web", index: 0, cause: "lost", node: other })]);
  });

  test("lost_after unset: lost once Offline, as before", () => {
    const { state, id, keepHeard } = silentNode(undefined);
    keepHeard(T0 + offlineAfterMs + 1);
    expect(plan(state, T0 + offlineAfterMs + 1).markLost.map((l) => l.instance)).toEqual([id]);
  });

  test("replace: false: never lost nor replaced while its node is silent, and its return needs nothing done", () => {
    const { state, id, node, keepHeard } = silentNode({ replace: false });
    for (const at of [T0 + offlineAfterMs + 1, T0 + 3_600_000, T0 + 6 * 86_400_000]) {
      keepHeard(at);
      const p = reconcileOnce(state, at).plan;
      expect(p.markLost).toEqual([]);
      expect(p.place).toEqual([]);
      expect(p.pend).toEqual([]);
      expect(p.skip).toContainEqual(expect.objectContaining({ gate: "disconnect", instance: id, reason: expect.stringContaining("waits for the node") }));
    }
    const back = T0 + 6 * 86_400_000 + 1;
    apply(state, [nodeConnected(node, back, { session: 2 }), heartbeat(node, back)]);
    keepHeard(back);
    const p = reconcileOnce(state, back).plan;
    expect(p.markLost).toEqual([]);
    expect(p.place).toEqual([]);
    expect(state.instances.get(id)!.state).toBe("running");
    expect(isEmptyPlan(plan(state, back))).toBe(true);
  });

  test("replace: false on a node an operator removed: lost and replaced (nothing else would free the slot)", () => {
    const { state, id, node, keepHeard } = silentNode({ replace: false });
    const at = T0 + offlineAfterMs + 1;
    keepHeard(at);
    apply(state, [{ type: "NodeRemoved", at, node, by: "admin" }]);
    expect(plan(state, at).markLost.map((l) => l.instance)).toEqual([id]);
  });

  test("replace: false of a deleted workload: its copy is lost so the workload can go", () => {
    const { state, id, keepHeard } = silentNode({ replace: false });
    const at = T0 + offlineAfterMs + 1;
    keepHeard(at);
    apply(state, [{ type: "WorkloadDeleteRequested", at, name: "web" }]);
    expect(plan(state, at).markLost.map((l) => l.instance)).toEqual([id]);
  });
});

describe("validation of spec.disconnect", () => {
  test.each([
    { d: { lostAfter: s(-1) }, field: "workload.spec.disconnect.lost_after", expected: "a non-negative duration" },
    { d: { lostAfter: s(0) }, field: "workload.spec.disconnect.lost_after", expected: "a duration above 0" },
    { d: { stopOnClientAfter: s(8 * 86_400) }, field: "workload.spec.disconnect.stop_on_client_after", expected: "at most 168h" },
    { d: { replace: false, lostAfter: s(60) }, field: "workload.spec.disconnect.lost_after", expected: "none with replace: false" },
  ])("$field: $expected", ({ d, field, expected }) => {
    const problems = validateWorkload({ name: "web", labels: {}, spec: spec({ disconnect: d as Disconnect }) });
    expect(problems).toEqual([{ kind: "InvalidArgument", field, expected: expect.stringContaining(expected) }]);
  });

  test("a whole block is valid", () => {
    expect(validateWorkload({ name: "web", labels: {}, spec: spec({ disconnect: { lostAfter: s(60), replace: true, stopOnClientAfter: s(30) } }) })).toEqual([]);
  });
});
