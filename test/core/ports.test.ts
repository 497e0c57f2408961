/**
 * Ports as a placement resource: which nodes fit a copy's port requests, which numbers it
 * gets, the reasons it waits, the refusals of bad specs, and the variables copies learn them by.
 */
import { describe, expect, test } from "bun:test";
import { replay } from "../../src/core/events/evolve.js";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { expand, expandSpec, identityEnvironment, portEnvironment } from "../../src/core/model/port-env.js";
import { type NodePorts, NO_PORTS } from "../../src/core/model/ports.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { type Port, WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { created, nodeConnected, spec, T0, transitioned, workloadApplied } from "./fixtures.js";

const ports = (over: Partial<NodePorts> = {}): NodePorts => ({ address: "10.0.0.1", range: { from: 20000, to: 20009 }, reserved: [], ...over });
const node = (name: string, p: NodePorts = ports()): FleetNode => ({ name, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {}, ports: p });
const port = (name: string, over: Partial<Port> = {}): Port => ({ name, static: undefined, to: undefined, protocol: "", ...over });
const apply = (name: string, replicas: number, p: Port[], image = ""): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas, ports: p, image }) });

function fleetOf(...nodes: FleetNode[]): SimulatedFleet {
  const fleet = new SimulatedFleet();
  for (const n of nodes) fleet.connect(n);
  fleet.turn();
  return fleet;
}

/** Each copy of a workload as `name@node:port,port`, or `name: reason` while it waits. */
function copies(fleet: SimulatedFleet, workload: string): string[] {
  return [...fleet.state.instances.values()]
    .filter((i) => i.workload === workload && i.desired === "run")
    .sort((a, b) => a.index - b.index)
    .map((i) => (i.node === null ? `${i.name}: ${i.reason}` : `${i.name}@${i.node}:${i.ports.map((p) => `${p.hostPort}/${p.protocol}`).join(",")}`));
}

describe("port feasibility and allocation", () => {
  test.each([
    ["dynamic ports are the lowest free of the range, copy after copy", [node("a")], [apply("web", 3, [port("http")])], ["web-0@a:20000/tcp", "web-1@a:20001/tcp", "web-2@a:20002/tcp"]],
    [
      "a static port held on the only node leaves the next copy Pending, naming port, node and holder",
      [node("a")],
      [apply("web", 2, [port("http", { static: 8080 })])],
      ["web-0@a:8080/tcp", "web-1: no node fits (1 port 8080 taken on a by web-0)"],
    ],
    ["a static port goes to another node when one holds it", [node("a"), node("b")], [apply("web", 2, [port("http", { static: 8080 })])], ["web-0@a:8080/tcp", "web-1@b:8080/tcp"]],
    ["a reserved port is never given", [node("a", ports({ reserved: [{ from: 22, to: 22 }] }))], [apply("ssh", 1, [port("ssh", { static: 22 })])], ["ssh-0: no node fits (1 port 22 reserved on a)"]],
    [
      "reserved ports are skipped by dynamic ones",
      [node("a", ports({ reserved: [{ from: 20000, to: 20001 }, { from: 20001, to: 20003 }] }))],
      [apply("web", 2, [port("http")])],
      ["web-0@a:20004/tcp", "web-1@a:20005/tcp"],
    ],
    [
      "too few dynamic ports left in the range: Pending",
      [node("a", ports({ range: { from: 20000, to: 20002 }, reserved: [{ from: 20001, to: 20001 }] }))],
      [apply("web", 2, [port("a"), port("b")])],
      ["web-0@a:20000/tcp,20002/tcp", "web-1: no node fits (1 short of dynamic ports)"],
    ],
    [
      "a static port inside the range counts against it",
      [node("a", ports({ range: { from: 20000, to: 20001 } }))],
      [apply("web", 1, [port("fixed", { static: 20001 }), port("dyn")]), apply("worker", 1, [port("dyn")])],
      ["web-0@a:20001/tcp,20000/tcp"],
    ],
    ["tcp and udp of one number are different ports", [node("a")], [apply("dns", 1, [port("tcp", { static: 53 }), port("udp", { static: 53, protocol: "udp" })]), apply("web", 1, [port("x", { static: 53 })])], ["dns-0@a:53/tcp,53/udp"]],
    ["a node that advertises no address offers no ports", [node("a", NO_PORTS)], [apply("web", 1, [port("http")])], ["web-0: no node fits (1 advertises no ports (agent without --advertise-address))"]],
  ] as const)("%s", (_what, nodes, applies, expected) => {
    const fleet = fleetOf(...nodes);
    fleet.turn([...applies]);
    fleet.settle();
    const first = applies[0]!.type === "ApplyWorkload" ? applies[0]!.name : "";
    expect(copies(fleet, first)).toEqual([...expected]);
  });

  test("the range is shared: once web took the range (workloads are placed in name order), worker waits", () => {
    const fleet = fleetOf(node("a", ports({ range: { from: 20000, to: 20001 } })));
    fleet.turn([apply("web", 1, [port("fixed", { static: 20001 }), port("dyn")]), apply("worker", 1, [port("dyn")])]);
    fleet.settle();
    expect(copies(fleet, "worker")).toEqual(["worker-0: no node fits (1 short of dynamic ports)"]);
  });

  test("a workload whose ports fit is not refused because another shape with other ports fit nowhere in the same pass", () => {
    const fleet = fleetOf(node("a"));
    fleet.turn([apply("one", 2, [port("http", { static: 8080 })]), apply("two", 1, [port("http", { static: 9090 })])]);
    fleet.settle();
    expect(copies(fleet, "one")).toEqual(["one-0@a:8080/tcp", "one-1: no node fits (1 port 8080 taken on a by one-0)"]);
    expect(copies(fleet, "two")).toEqual(["two-0@a:9090/tcp"]);
  });

  test("a copy that ends frees its ports: the replacement of a crashed copy reuses them", () => {
    const fleet = fleetOf(node("a"));
    fleet.turn([apply("web", 1, [port("http", { static: 8080 })])]);
    fleet.settle();
    fleet.crash([...fleet.state.instances.keys()][0]!);
    fleet.settle();
    fleet.advance(2_000);
    fleet.settle();
    expect(copies(fleet, "web")).toEqual(["web-0@a:8080/tcp"]);
    expect([...fleet.state.instances.values()].filter((i) => i.state === "running").map((i) => i.attempt)).toEqual([1]);
  });

  test("an image's container port is `to`, else the host port; the start command carries ports and the host IP", () => {
    const fleet = fleetOf(node("a"));
    const r = fleet.turn([apply("web", 1, [port("http", { to: 80 }), port("metrics")], "busybox")]);
    const start = r.effects.find((e) => e.type === "StartInstance");
    expect(start).toMatchObject({
      hostIp: "10.0.0.1",
      ports: [
        { name: "http", hostPort: 20000, protocol: "tcp", containerPort: 80 },
        { name: "metrics", hostPort: 20001, protocol: "tcp", containerPort: 20001 },
      ],
    });
  });

  test("replaying the log reproduces every copy's ports", () => {
    const fleet = fleetOf(node("a"), node("b"));
    fleet.turn([apply("web", 5, [port("http"), port("dns", { protocol: "udp" })])]);
    fleet.settle();
    const live = [...fleet.state.instances.values()].map((i) => [i.id, i.node, i.ports]);
    expect(live.length).toBe(5);
    expect([...replay(fleet.events).instances.values()].map((i) => [i.id, i.node, i.ports])).toEqual(live);
  });
});

test("a reconnecting agent that never got a copy's start gets it again with the copy's ports, at the address it gives now", () => {
  const http = [{ name: "http", hostPort: 20000, protocol: "tcp" as const, containerPort: 0 }];
  const state = replay([
    nodeConnected("a", T0, { ports: ports() }),
    workloadApplied("web", T0, { spec: spec({ ports: [port("http")] }) }),
    created("web-0.1", T0),
    transitioned("web-0.1", T0, { type: "place", node: "a", ports: http }),
  ]);
  const d = decide(state, { type: "AgentConnected", node: "a", session: 2, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 4000, memoryMb: 8192 }, ports: ports({ address: "10.0.0.9" }), instances: [] }, T0 + 1);
  expect(d.effects).toMatchObject([{ type: "StartInstance", instanceId: "web-0.1", ports: http, hostIp: "10.0.0.9" }]);
});

describe("port validation", () => {
  const refusal = (p: Port[], over: Parameters<typeof spec>[0] = {}) => validateWorkload({ name: "web", labels: {}, spec: spec({ ports: p, ...over }) }).map(describeRejection);
  test.each([
    ["a name that is not a DNS label", [port("HTTP")], 'workload.spec.ports[0].name: expected a DNS label (lower-case letters, digits, \'-\'), got "HTTP"'],
    ["a repeated name", [port("http"), port("http")], 'workload.spec.ports[1].name: expected a name not used by another port, got "http" twice'],
    ["static 0", [port("http", { static: 0 })], "workload.spec.ports[0].static: expected 1-65535, got 0"],
    ["static over 65535", [port("a"), port("http", { static: 70000 })], "workload.spec.ports[1].static: expected 1-65535, got 70000"],
    ["two ports on one static port and protocol", [port("a", { static: 80 }), port("b", { static: 80 })], "workload.spec.ports[1].static: expected a host port not taken by ports[0], got 80 again"],
    ["`to` for a process", [port("http", { to: 80 })], "workload.spec.ports[0].to: expected no container port for a process workload (set spec.image, or leave `to` out)"],
    ["an unknown protocol", [port("http", { protocol: "sctp" })], 'workload.spec.ports[0].protocol: expected tcp or udp, got "sctp"'],
  ] as const)("refuses %s, naming the field", (_what, p, expected) => {
    expect(refusal([...p])).toEqual([expected]);
  });

  test("accepts one static port per protocol, `to` on an image, and names it checks may use", () => {
    expect(refusal([port("a", { static: 53 }), port("b", { static: 53, protocol: "udp" })])).toEqual([]);
    expect(refusal([port("http", { to: 80 })], { image: "busybox" })).toEqual([]);
    const check = { name: "ready", role: 1, successThreshold: 0, failureThreshold: 0, probe: { $case: "http" as const, value: { port: 0, path: "/", portName: "http" } } };
    expect(refusal([port("http")], { checks: [check] })).toEqual([]);
    expect(refusal([], { checks: [check] })).toEqual(['workload.spec.checks[0].http.port_name: expected the name of one of spec.ports, got "http"']);
  });

  test("an unknown ${TESSERA_...} is refused at apply, naming the field; $${ escapes; other ${...} are left alone", () => {
    expect(refusal([port("http")], { args: ["${TESSERA_PORT_HTTP}", "$${TESSERA_NOPE}", "${HOME}"], env: { A: "${TESSERA_ADDR_HTTP}" }, workingDir: "/srv/${TESSERA_HOST_PORT_HTTP}" })).toEqual([]);
    const refused = refusal([port("http")], { args: ["${TESSERA_PORT_WEB}"] });
    expect(refused).toHaveLength(1);
    expect(refused[0]).toStartWith("workload.spec.args[0]: expected a variable a copy has (");
    expect(refused[0]).toEndWith("got ${TESSERA_PORT_WEB}");
    expect(refusal([], { env: { X: "${TESSERA_PORT_HTTP}" } })[0]).toStartWith("workload.spec.env.X: expected a variable a copy has");
  });

  test("${TESSERA_COMPLETION_INDEX} is a batch copy's: refused for a service", () => {
    expect(refusal([], { kind: WorkloadKind.WORKLOAD_KIND_BATCH, args: ["--shard=${TESSERA_COMPLETION_INDEX}"] })).toEqual([]);
    expect(refusal([], { args: ["--shard=${TESSERA_COMPLETION_INDEX}"] })[0]).toEndWith("got ${TESSERA_COMPLETION_INDEX}");
  });
});

describe("what copies learn of themselves", () => {
  const copy = { instanceId: "migrate-12.40", name: "migrate-12", workload: "migrate" };
  test("every copy its name, id and workload; a batch copy its completion index, the index in its name", () => {
    expect(identityEnvironment(spec(), copy)).toEqual({ TESSERA_INSTANCE: "migrate-12", TESSERA_INSTANCE_ID: "migrate-12.40", TESSERA_WORKLOAD: "migrate" });
    expect(identityEnvironment(spec({ kind: WorkloadKind.WORKLOAD_KIND_SYSTEM }), copy)).not.toHaveProperty("TESSERA_COMPLETION_INDEX");
    expect(identityEnvironment(spec({ kind: WorkloadKind.WORKLOAD_KIND_BATCH }), copy)).toEqual({ TESSERA_INSTANCE: "migrate-12", TESSERA_INSTANCE_ID: "migrate-12.40", TESSERA_WORKLOAD: "migrate", TESSERA_COMPLETION_INDEX: "12" });
    // A workload name may end in a number itself.
    expect(identityEnvironment(spec({ kind: WorkloadKind.WORKLOAD_KIND_BATCH }), { instanceId: "job-2-0.3", name: "job-2-0", workload: "job-2" }).TESSERA_COMPLETION_INDEX).toBe("0");
  });
});

describe("what copies learn of their ports", () => {
  const assigned = [
    { name: "http", hostPort: 20000, protocol: "tcp" as const, containerPort: 0 },
    { name: "admin-api", hostPort: 20001, protocol: "tcp" as const, containerPort: 8080 },
  ];
  test("names upper-cased with - as _; with `to`, PORT is the container's and HOST_PORT the host's", () => {
    expect(portEnvironment(assigned, "10.0.0.1")).toEqual({
      TESSERA_HOST_IP: "10.0.0.1",
      TESSERA_PORT_HTTP: "20000",
      TESSERA_HOST_PORT_HTTP: "20000",
      TESSERA_ADDR_HTTP: "10.0.0.1:20000",
      TESSERA_PORT_ADMIN_API: "8080",
      TESSERA_HOST_PORT_ADMIN_API: "20001",
      TESSERA_ADDR_ADMIN_API: "10.0.0.1:20001",
    });
  });

  test.each([
    ["${TESSERA_PORT_HTTP}", "20000"],
    ["--bind=${TESSERA_ADDR_HTTP}/x", "--bind=10.0.0.1:20000/x"],
    ["$${TESSERA_PORT_HTTP}", "${TESSERA_PORT_HTTP}"],
    ["$$${TESSERA_PORT_HTTP}", "$${TESSERA_PORT_HTTP}"],
    ["${HOME} $HOME", "${HOME} $HOME"],
  ])("expands %p to %p", (text, expected) => {
    expect(expand(text, portEnvironment(assigned, "10.0.0.1"))).toBe(expected);
  });

  test("args, env values and the working dir are expanded; env names are not", () => {
    const s = spec({ args: ["-m", "http.server", "${TESSERA_PORT_HTTP}"], env: { LISTEN: "${TESSERA_ADDR_HTTP}" }, workingDir: "/srv/${TESSERA_PORT_HTTP}" });
    expect(expandSpec(s, portEnvironment(assigned, "127.0.0.1"))).toEqual({ args: ["-m", "http.server", "20000"], env: { LISTEN: "127.0.0.1:20000" }, workingDir: "/srv/20000" });
  });
});
