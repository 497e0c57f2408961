/**
 * What the event log tells `logs` of a workload's copies (EventHistory.copyFacts), on a real
 * store of each kind: placements, runs and ends, newest first, only of that workload.
 */
import { expect, test } from "bun:test";
import { emptyState } from "../../src/core/model/cluster-state.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { apply, created, nodeConnected, T0, transitioned, workloadApplied } from "../core/fixtures.js";
import { storeBackends } from "./store-backends.js";

for (const backend of storeBackends("copy facts on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: a workload's placements, runs and ends, newest first`, async () => {
    const { store } = await backend.fresh();
    const events: ClusterEvent[] = [
      nodeConnected("n1", T0),
      workloadApplied("web", T0),
      workloadApplied("api", T0),
      created("web-0.1", T0),
      transitioned("web-0.1", T0, { type: "place", node: "n1" }),
      transitioned("web-0.1", T0, { type: "provision" }),
      transitioned("web-0.1", T0, { type: "run" }),
      created("api-0.2", T0),
      transitioned("api-0.2", T0, { type: "place", node: "n1" }),
      transitioned("web-0.1", T0 + 1, { type: "fail", reason: "exited with code 7", exitCode: 7 }),
      transitioned("web-0.1", T0 + 2, { type: "stop", reason: "restart" }),
      transitioned("web-0.1", T0 + 3, { type: "finish" }),
    ];
    await store.commit(events, apply(emptyState(), events));
    expect([...(await store.history.copyFacts("web"))]).toEqual([
      { instance: "web-0.1", fact: "ended" },
      { instance: "web-0.1", fact: "ended" },
      { instance: "web-0.1", fact: "ran" },
      { instance: "web-0.1", fact: "placed", node: "n1" },
    ]);
    await store.close();
  });
}
