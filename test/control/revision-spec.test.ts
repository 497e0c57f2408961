/**
 * What `rollout undo --to-revision` reads (EventHistory.revisionSpec), on a real store of each
 * kind: a revision of the workload now bearing the name, never of a deleted one, and a
 * revert's revision as the spec it went back to.
 */
import { expect, test } from "bun:test";
import { emptyState } from "../../src/core/model/cluster-state.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { apply, nodeConnected, spec, T0, workloadApplied } from "../core/fixtures.js";
import { storeBackends } from "./store-backends.js";

for (const backend of storeBackends("revisions on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: revisions of the workload now named, across a delete and a revert`, async () => {
    const { store } = await backend.fresh();
    const v = (args: string, replicas = 1) => spec({ args: [args], replicas });
    const events: ClusterEvent[] = [
      nodeConnected("n1", T0),
      workloadApplied("web", T0, { spec: v("sleep 1") }),
      workloadApplied("web", T0 + 1, { spec: v("old two"), generation: 2 }),
      workloadApplied("api", T0 + 1, { spec: v("api") }),
      { type: "WorkloadDeleteRequested", at: T0 + 2, name: "web" },
      { type: "WorkloadRemoved", at: T0 + 3, name: "web" },
      workloadApplied("web", T0 + 4, { spec: v("sleep 2", 3) }),
      { type: "RolloutCompleted", at: T0 + 5, name: "web", generation: 1 },
      workloadApplied("web", T0 + 6, { spec: v("sleep 3", 3), generation: 2 }),
    ];
    const state = apply(emptyState(), events);
    await store.commit(events, state);
    // The revert is the reconciler's (a turn of its own): generation 3, back to the completed generation 1.
    const revert: ClusterEvent[] = [{ type: "RolloutReverted", at: T0 + 7, name: "web", failedGeneration: 2, generation: 3, reason: "stalled", to: 1 }];
    await store.commit(revert, apply(state, revert));
    expect(await store.history.revisionSpec("web", 1)).toEqual(v("sleep 2", 3));
    expect(await store.history.revisionSpec("web", 2)).toEqual(v("sleep 3", 3));
    expect(await store.history.revisionSpec("web", 3)).toEqual(v("sleep 2", 3));
    expect(await store.history.revisionSpec("web", 4)).toBeUndefined();
    expect(await store.history.revisionSpec("api", 1)).toEqual(v("api"));
    await store.close();
  });
}
