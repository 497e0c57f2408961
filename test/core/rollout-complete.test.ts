/**
 * What GetWorkload says of a rollout's end, which `apply --wait` judges by: rolloutComplete
 * only once the current generation's copies are all available (soaked), no older copy is
 * wanted, and RolloutCompleted is recorded; revertedGeneration names what a revert undid.
 */
import { describe, expect, test } from "bun:test";
import { emptyState, instancesOfWorkload, type ClusterState } from "../../src/core/model/cluster-state.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { workloadStatus } from "../../src/core/views/workload-status.js";
import { apply, created, nodeConnected, spec, T0, transitioned, workloadApplied } from "./fixtures.js";

const SOAK = spec({ replicas: 1, update: { maxSurge: 1, maxUnavailable: 0, minHealthyTime: { seconds: 3, nanos: 0 }, waves: [] } });

/** `id` placed on n1 and running (Ready: no readiness checks) at `at`. */
const runs = (id: string, at: number, generation = 1): ClusterEvent[] => [created(id, at, { generation }), transitioned(id, at, { type: "place", node: "n1" }), transitioned(id, at, { type: "provision" }), transitioned(id, at, { type: "run" })];

const status = (state: ClusterState, now: number) => workloadStatus(state, state.workloads.get("web")!, instancesOfWorkload(state, "web"), now);

describe("rolloutComplete", () => {
  test("not while the new copy soaks, nor before RolloutCompleted, nor while an old copy is wanted", () => {
    const state = apply(emptyState(), [nodeConnected("n1", T0), workloadApplied("web", T0, { spec: SOAK }), ...runs("web-0.1", T0), { type: "RolloutCompleted", at: T0 + 3_000, name: "web", generation: 1 }]);
    expect(status(state, T0 + 3_000).rolloutComplete).toBe(true);
    const v2 = spec({ ...SOAK, args: ["2000"] });
    apply(state, [workloadApplied("web", T0 + 4_000, { spec: v2, generation: 2 }), ...runs("web-0.2", T0 + 4_000, 2)]);
    // Ready, not yet available: the soak holds it (READY counts the old copy serving too).
    expect(status(state, T0 + 5_000)).toMatchObject({ ready: 2, upToDate: 1, available: 0, rolloutComplete: false });
    // Soaked, but the old copy is still wanted and no RolloutCompleted is recorded.
    expect(status(state, T0 + 8_000)).toMatchObject({ available: 1, rolloutComplete: false });
    apply(state, [{ type: "RolloutCompleted", at: T0 + 8_000, name: "web", generation: 2 }]);
    expect(status(state, T0 + 8_000).rolloutComplete).toBe(false);
    apply(state, [transitioned("web-0.1", T0 + 8_000, { type: "stop", reason: "update: replaced" })]);
    expect(status(state, T0 + 8_000)).toMatchObject({ rolloutComplete: true, revertedGeneration: 0 });
  });

  test("after a revert, the restored spec's rollout is complete and revertedGeneration names the generation undone", () => {
    const state = apply(emptyState(), [nodeConnected("n1", T0), workloadApplied("web", T0, { spec: SOAK }), ...runs("web-0.1", T0), { type: "RolloutCompleted", at: T0 + 3_000, name: "web", generation: 1 }]);
    apply(state, [workloadApplied("web", T0 + 4_000, { spec: spec({ ...SOAK, args: ["bad"] }), generation: 2 }), created("web-0.2", T0 + 4_000, { generation: 2 })]);
    apply(state, [{ type: "RolloutReverted", at: T0 + 70_000, name: "web", failedGeneration: 2, generation: 3, reason: "not complete within progress_deadline 60s", to: 1 }]);
    apply(state, [transitioned("web-0.2", T0 + 70_000, { type: "stop", reason: "reverted" })]);
    expect(state.workloads.get("web")!.generation).toBe(3);
    expect(status(state, T0 + 70_000)).toMatchObject({ rolloutComplete: true, revertedGeneration: 2 });
  });
});
