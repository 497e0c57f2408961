/** An agent that was disconnected: its hello tells how instances ended; late reports are superseded. */
import { expect, test } from "bun:test";
import { decide } from "../../src/core/decide/decide.js";
import { replay } from "../../src/core/events/evolve.js";
import { CAPACITY, nodeConnected, report, runningCopy, T0, transitioned, workloadApplied } from "./fixtures.js";

const running = () =>
  replay([
    nodeConnected("n1", T0),
    workloadApplied("web", T0),
    ...runningCopy("web-0.1", T0),
  ]);

test("an instance that died while disconnected is recorded with its reason and exit code", () => {
  const d = decide(
    running(),
    {
      type: "AgentConnected",
      node: "n1",
      session: 2,
      executors: ["process"],
      version: "test",
      labels: {},
      capacity: CAPACITY,
      instances: [{ id: "web-0.1", generation: 1, state: "failed", reason: "exited with code 3", exitCode: 3 }],
    },
    T0 + 10,
  );
  expect(d.events.slice(1)).toEqual([transitioned("web-0.1", T0 + 10, { type: "fail", reason: "exited with code 3", exitCode: 3 })]);
});

test("a report the record has moved past is superseded, not an invalid transition", () => {
  const state = running();
  expect(decide(state, report("n1", "web-0.1", "provisioning"), T0).rejection).toEqual({
    kind: "SupersededReport",
    id: "web-0.1",
    reported: "provisioning",
    current: "running",
  });
  // Going backwards in a way the machine never does is still invalid.
  expect(decide(state, report("n1", "web-0.1", "stopped"), T0).rejection).toEqual({ kind: "InvalidTransition", from: "running", event: "finish" });
});
