/** The leader's usage board: a copy's sample counts only from the node it runs on, and only while it runs; totals per node and workload (#31). */
import { expect, test } from "bun:test";
import { SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { UsageBoard } from "../../src/control/writer/usage-board.js";
import { spec } from "../core/fixtures.js";

const capacity = { cpuMillis: 64_000, memoryMb: 65_536 };

test("samples count from the copy's own node while it runs; totals per node and workload; a node's go with its stream", () => {
  const fleet = new SimulatedFleet();
  fleet.connect({ name: "a", capacity, labels: {} });
  fleet.connect({ name: "b", capacity, labels: {} });
  fleet.turn([{ type: "ApplyWorkload", name: "web", labels: {}, spec: spec({ replicas: 2 }) }]);
  fleet.settle();
  const copies = [...fleet.state.instances.values()];
  expect(copies.map((i) => [i.node, i.state])).toEqual([
    ["a", "running"],
    ["b", "running"],
  ]);
  const [onA, onB] = copies;
  const board = new UsageBoard();
  board.record("a", [{ instanceId: onA!.id, cpuMillis: 100, memoryBytes: 10 }], 1_000);
  // b claims a's copy, and reports its own.
  board.record("b", [{ instanceId: onA!.id, cpuMillis: 999, memoryBytes: 999 }, { instanceId: onB!.id, cpuMillis: 50, memoryBytes: 5 }], 2_000);
  expect(board.ofInstance(onA!)).toEqual({ cpuMillis: 100, memoryBytes: 10, sampledAt: new Date(1_000) });
  const totals = board.totals(fleet.state);
  expect(Object.fromEntries([...totals.nodes].map(([n, u]) => [n, u.cpuMillis]))).toEqual({ a: 100, b: 50 });
  expect(totals.workloads.get("web")).toMatchObject({ cpuMillis: 150, memoryBytes: 15 });
  board.forget("a");
  expect(board.ofInstance(onA!)).toBeUndefined();
  expect(board.ofInstance({ ...onB!, state: "failed" })).toBeUndefined();
});
