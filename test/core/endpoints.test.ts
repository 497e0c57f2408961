/** Endpoints: one per port of each running, wanted copy, with its node's address and readiness. */
import { expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { endpointsOf } from "../../src/core/views/endpoints.js";
import type { NodePorts } from "../../src/core/model/ports.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { Port } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const ports = (address: string): NodePorts => ({ address, range: { from: 20000, to: 20009 }, reserved: [] });
const node = (name: string, address: string): FleetNode => ({ name, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {}, ports: ports(address) });
const port = (name: string, protocol = ""): Port => ({ name, static: undefined, to: undefined, protocol });
const apply = (name: string, replicas: number, p: Port[], checks = false): Command => ({
  type: "ApplyWorkload",
  name,
  labels: {},
  spec: spec({ replicas, ports: p, checks: checks ? [{ name: "up", role: 0, probe: { $case: "tcp", value: { port: 0, portName: p[0]!.name } }, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0 }] : [] }),
});

test("every port of every running copy, sorted, with the node's address; copies without ports have none", () => {
  const fleet = new SimulatedFleet();
  fleet.connect(node("a", "10.0.0.1"));
  fleet.connect(node("b", "10.0.0.2"));
  fleet.turn([apply("web", 2, [port("http"), port("dns", "udp")]), apply("plain", 1, [])]);
  fleet.settle();
  const line = (e: ReturnType<typeof endpointsOf>[number]) => `${e.name} ${e.node} ${e.address}:${e.hostPort}/${e.protocol} ${e.portName} ready=${e.ready}`;
  expect(endpointsOf(fleet.state).map(line)).toEqual([
    // "plain" went to a first, so spread put web-0 on b; tcp and udp number their ports apart.
    "web-0 b 10.0.0.2:20000/udp dns ready=true",
    "web-0 b 10.0.0.2:20000/tcp http ready=true",
    "web-1 a 10.0.0.1:20000/udp dns ready=true",
    "web-1 a 10.0.0.1:20000/tcp http ready=true",
  ]);
  expect(endpointsOf(fleet.state, "plain")).toEqual([]);
  expect(endpointsOf(fleet.state, "nothing")).toEqual([]);
});

test("a copy whose checks do not pass is an endpoint, not Ready; a deleted workload's copies leave", () => {
  const fleet = new SimulatedFleet();
  fleet.connect(node("a", "10.0.0.1"));
  fleet.failingChecks.add("web");
  fleet.turn([apply("web", 1, [port("http")], true)]);
  fleet.settle();
  expect(endpointsOf(fleet.state, "web").map((e) => [e.name, e.ready])).toEqual([["web-0", false]]);
  fleet.turn([{ type: "DeleteWorkload", name: "web" }]);
  expect(endpointsOf(fleet.state, "web")).toEqual([]);
});
