/**
 * What the event log tells `logs` of a workload's copies (EventHistory.copyFacts), on a real
 * store: placements, runs and ends, newest first, only of that workload.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/control/store/store.js";
import { emptyState } from "../../src/core/cluster-state.js";
import type { ClusterEvent } from "../../src/core/cluster-events.js";
import { apply, created, nodeConnected, T0, transitioned, workloadApplied } from "../core/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-copy-facts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a workload's placements, runs and ends, newest first", () => {
  const store = new Store(dir);
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
  store.commit(events, apply(emptyState(), events));
  expect([...store.history.copyFacts("web")]).toEqual([
    { instance: "web-0.1", fact: "ended" },
    { instance: "web-0.1", fact: "ended" },
    { instance: "web-0.1", fact: "ran" },
    { instance: "web-0.1", fact: "placed", node: "n1" },
  ]);
  store.close();
});
