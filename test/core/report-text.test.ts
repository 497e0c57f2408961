/**
 * What an agent reports is kept as text every store takes: a NUL byte (a program's stderr may
 * hold one) is recorded as U+FFFD, never as the NUL PostgreSQL refuses (a refused turn would stop
 * the control plane taking changes until the store writes again).
 */
import { describe, expect, test } from "bun:test";
import { decide } from "../../src/core/decide/decide.js";
import { emptyState } from "../../src/core/model/cluster-state.js";
import { apply, nodeConnected, runningCopy, T0, workloadApplied } from "./fixtures.js";

function stateWithRunningCopy() {
  return apply(emptyState(), [nodeConnected("n1", T0), workloadApplied("web", T0), ...runningCopy("web-0.1", T0)]);
}

describe("agent reports with NUL bytes", () => {
  test("a failure's reason and stderr tail are recorded with U+FFFD for each NUL", () => {
    const d = decide(stateWithRunningCopy(), { type: "ReportInstance", node: "n1", instanceId: "web-0.1", generation: 1, state: "failed", reason: "exit\u0000ed", exitCode: 1, stderrTail: "bad\u0000line" }, T0 + 1);
    expect(d.rejection).toBeUndefined();
    expect(d.events).toEqual([{ type: "InstanceTransitioned", at: T0 + 1, id: "web-0.1", event: { type: "fail", reason: "exit\uFFFDed", exitCode: 1, stderrTail: "bad\uFFFDline" } }]);
  });

  test("a failing check's detail is recorded with U+FFFD for each NUL", () => {
    const state = stateWithRunningCopy();
    state.instances.get("web-0.1")!.readinessChecks = ["ready"];
    const d = decide(state, { type: "ReportCheck", node: "n1", instanceId: "web-0.1", generation: 1, check: "ready", passing: false, detail: "refused\u0000" }, T0 + 1);
    expect(d.rejection).toBeUndefined();
    expect(JSON.stringify(d.events)).not.toContain("\\u0000");
    expect(d.events[0]).toMatchObject({ type: "InstanceCheckReported", detail: "refused\uFFFD" });
  });
});
