import { describe, expect, test } from "bun:test";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { emptyState } from "../../src/core/model/cluster-state.js";
import { fleetSnapshot } from "../../src/core/views/fleet-view.js";
import { ReplayCheckpoints } from "../../src/core/events/replay-checkpoints.js";
import { apply, created, nodeConnected, spec, T0, transitioned, workloadApplied } from "./fixtures.js";

/** A log of `n` workloads, each one copy placed and running: 5 events each after the node's. */
function log(n: number): ClusterEvent[] {
  const events: ClusterEvent[] = [nodeConnected("node-a", T0)];
  for (let w = 0; w < n; w++) {
    const id = `w${w}-0.${w + 1}`;
    events.push(
      workloadApplied(`w${w}`, T0, { spec: spec({ replicas: 1 }) }),
      created(id, T0),
      transitioned(id, T0, { type: "place", node: "node-a", ports: [] }),
      transitioned(id, T0, { type: "provision" }),
      transitioned(id, T0, { type: "run" }),
    );
  }
  return events;
}

/** Folds the log through `seq` the way /api/at does: from the nearest kept state. */
function at(checkpoints: ReplayCheckpoints, events: ClusterEvent[], seq: number) {
  const fold = checkpoints.from(seq);
  for (let s = fold.seq + 1; s <= seq; s++) fold.step(s, events[s - 1]!);
  return fleetSnapshot(fold.state, seq);
}

describe("replay checkpoints", () => {
  const events = log(40);

  test("a fold from a kept state rebuilds what folding from the first event does, at every sequence number", () => {
    const checkpoints = new ReplayCheckpoints(20, 4);
    for (const seq of [events.length, 7, 150, 60, 61, 199, 1]) {
      expect(at(checkpoints, events, seq)).toEqual(fleetSnapshot(apply(emptyState(), events.slice(0, seq)), seq));
    }
  });

  test("folding from a kept state leaves it as it was", () => {
    const checkpoints = new ReplayCheckpoints(10, 8);
    at(checkpoints, events, 30);
    expect(checkpoints.seqs).toEqual([10, 20, 30]);
    const again = checkpoints.from(25);
    expect(again.seq).toBe(20);
    again.step(21, events[20]!);
    expect(at(checkpoints, events, 20)).toEqual(fleetSnapshot(apply(emptyState(), events.slice(0, 20)), 20));
  });

  test("at most `max` states are kept, spread over the whole log as it grows", () => {
    const checkpoints = new ReplayCheckpoints(10, 4);
    at(checkpoints, events, events.length);
    // 10, 20, ... up to 50 is one too many: every 20th; past 80, every 40th; past 160, every 80th.
    expect(checkpoints.seqs).toEqual([80, 160]);
    // A later request resumes from the newest kept state before it.
    expect(checkpoints.from(170).seq).toBe(160);
  });
});
