/** The endpoint table: kept in step by recomputing only what events touch, and copied by its differences. */
import { expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { diffOf, EndpointTable, hasChanges } from "../../src/core/views/endpoint-table.js";
import { endpointsOf, type Endpoint } from "../../src/core/views/endpoints.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { Port } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const node = (name: string, address: string): FleetNode => ({ name, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {}, ports: { address, range: { from: 20000, to: 20009 }, reserved: [] } });
const port = (name: string): Port => ({ name, static: undefined, to: undefined, protocol: "" });
const apply = (name: string, replicas: number, p: Port[]): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas, ports: p }) });
const sorted = (es: Endpoint[]) => es.map((e) => JSON.stringify(e)).sort();

/** The control plane's table follows the fleet event by event; an agent's follows the differences. */
function follow(fleet: SimulatedFleet) {
  const control = new EndpointTable();
  const agent = new EndpointTable();
  let seen = 0;
  const diffs: ReturnType<EndpointTable["refresh"]>[] = [];
  const step = () => {
    const events = fleet.events.slice(seen);
    seen = fleet.events.length;
    const changes = control.refresh(fleet.state, control.touchedBy(events, fleet.state));
    diffs.push(changes);
    agent.apply(diffOf(changes));
    expect(sorted(control.list())).toEqual(sorted(endpointsOf(fleet.state)));
    expect(sorted(agent.list())).toEqual(sorted(endpointsOf(fleet.state)));
  };
  return { control, agent, diffs, step };
}

test.each([
  ["scale up", (f: SimulatedFleet) => f.turn([apply("web", 4, [port("http"), port("admin")])])],
  ["scale down", (f: SimulatedFleet) => f.turn([apply("web", 1, [port("http"), port("admin")])])],
  ["a crash", (f: SimulatedFleet) => f.crash([...f.state.instancesByWorkload.get("web")!][0]!)],
  ["checks failing", (f: SimulatedFleet) => { f.failingChecks.add("web"); f.turn([{ type: "RestartWorkload", name: "web" }]); }],
  ["a lost node", (f: SimulatedFleet) => { f.kill("a"); f.advance(10_000); }],
  ["a node back at a new address", (f: SimulatedFleet) => f.connect(node("b", "10.0.0.9"))],
  ["deleting the workload", (f: SimulatedFleet) => f.turn([{ type: "DeleteWorkload", name: "web" }])],
])("after %s, both tables hold exactly endpointsOf(state)", (_what, change) => {
  const fleet = new SimulatedFleet();
  fleet.connect(node("a", "10.0.0.1"));
  fleet.connect(node("b", "10.0.0.2"));
  const t = follow(fleet);
  fleet.turn([apply("web", 2, [port("http"), port("admin")]), apply("plain", 3, [])]);
  fleet.settle();
  t.step();
  expect(t.control.list("web").length).toBe(4);
  change(fleet);
  fleet.settle();
  t.step();
});

test("a new receiver gets the whole table as a snapshot that replaces what it held", () => {
  const fleet = new SimulatedFleet();
  fleet.connect(node("a", "10.0.0.1"));
  const t = follow(fleet);
  fleet.turn([apply("web", 2, [port("http")])]);
  fleet.settle();
  t.step();
  const late = new EndpointTable();
  late.apply({ full: false, set: [{ ...t.control.list()[0]!, workload: "stale", instance: "stale-0.1" }], removed: [] });
  late.apply(t.control.snapshot());
  expect(sorted(late.list())).toEqual(sorted(t.control.list()));
});

test("workloads without ports touch nothing and send nothing", () => {
  const fleet = new SimulatedFleet();
  fleet.connect(node("a", "10.0.0.1"));
  const t = follow(fleet);
  fleet.turn([apply("plain", 3, [])]);
  const applied = fleet.events.length;
  fleet.settle();
  const afterApply = fleet.events.slice(applied).filter((e) => e.type !== "RolloutCompleted");
  // The copies' own events (placed, running) do not touch the workload.
  expect(t.control.touchedBy(afterApply, fleet.state)).toEqual(new Set());
  t.step();
  expect(t.diffs.some(hasChanges)).toBe(false);
});
