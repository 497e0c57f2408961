/**
 * Ports through dist/tessera, on one node as `make dev` has it (one control plane, one process
 * agent advertising 127.0.0.1): the README's fuller manifest runs 3 Ready copies side by side,
 * each answering HTTP where `get instances` says; a static port leaves the second copy Pending
 * naming the port; and (with a Docker engine) a busybox httpd answers on its published port.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerSuite, ensureImage, IMAGE, sh } from "./docker-engine.js";
import { ControlPlaneClient, EndpointChange, type WatchEndpointsResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { adminChannel, E2E_TIMEOUT_MS, eventually, freeRange, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

interface JsonInstance {
  name: string;
  observedState: string;
  ready?: boolean;
  reason?: string;
  address?: string;
  ports?: Array<{ name: string; hostPort: number; protocol: string; containerPort?: number }>;
}

async function instances(workload: string): Promise<JsonInstance[]> {
  const res = await ctl("get", "instances", workload, "-o", "json");
  expect(res.stderr).toBe("");
  return (JSON.parse(res.stdout) as { instances?: JsonInstance[] }).instances ?? [];
}

async function apply(body: object): Promise<void> {
  const file = join(h.dir, `${(body as { name: string }).name}.json`);
  writeFileSync(file, JSON.stringify(body));
  const res = await ctl("apply", "-f", file);
  expect(res.stderr).toBe("");
}

/** The README's "fuller manifest", exactly as written there. */
function readmeManifest(): string {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  const after = readme.slice(readme.indexOf("A fuller manifest"));
  return after.slice(after.indexOf("```json") + "```json".length, after.indexOf("```", after.indexOf("```json") + 7));
}

const docker = dockerSuite("ports with docker e2e");
let range = { from: 0, to: 0 };

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    range = await freeRange(8);
    address = (await h.startControl()).address;
    const executors = docker.available ? "process,docker" : "process";
    if (docker.available) ensureImage();
    h.start(["agent", "--control", address, "--name", "node-a", "--executor", executors, "--data-dir", join(h.dir, "agent"), "--advertise-address", "127.0.0.1", "--port-range", `${range.from}-${range.to}`]);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  if (docker.available) {
    await ctl("delete", "workload", "box");
    await eventually("containers removed", () => (sh(["docker", "ps", "-a", "-q", "--filter", "label=tessera.node=node-a"]).out.trim() === "" ? true : undefined), 15_000).catch(() => {});
  }
  await h.stop();
});

test("the README's fuller manifest runs 3 Ready copies on one node, each answering HTTP on the port get instances shows", async () => {
  const file = join(h.dir, "readme-web.json");
  writeFileSync(file, readmeManifest());
  const res = await ctl("apply", "-f", file, "--wait", "--timeout", "25");
  expect(res.stderr).toBe("");
  expect(res.stdout).toContain("rollout complete");
  const copies = await instances("web");
  expect(copies.map((i) => [i.name, i.observedState, i.ready])).toEqual([
    ["web-0", "INSTANCE_STATE_RUNNING", true],
    ["web-1", "INSTANCE_STATE_RUNNING", true],
    ["web-2", "INSTANCE_STATE_RUNNING", true],
  ]);
  const ports = copies.map((i) => i.ports![0]!.hostPort);
  expect(new Set(ports).size).toBe(3);
  for (const i of copies) {
    expect(i.address).toBe("127.0.0.1");
    const p = i.ports![0]!;
    expect(p.name).toBe("http");
    expect(p.hostPort >= range.from && p.hostPort <= range.to).toBe(true);
    const answer = await fetch(`http://${i.address}:${p.hostPort}/`);
    expect(answer.status).toBe(200);
  }
  const table = (await ctl("get", "instances", "web")).stdout;
  expect(table).toMatch(/^NAME\s+ID\s+DESIRED\s+STATE\s+NODE\s+PORTS\s/m);
  for (const port of ports) expect(table).toContain(`http=127.0.0.1:${port}`);
  expect((await ctl("describe", "workload", "web")).stdout).toContain(`http=127.0.0.1:${ports[0]}`);
});

test("get endpoints lists the 3 copies of the dynamic-port workload, each answering HTTP at its address:port", async () => {
  const res = await ctl("get", "endpoints", "web", "-o", "json");
  expect(res.stderr).toBe("");
  const endpoints = (JSON.parse(res.stdout) as { endpoints: Array<{ name: string; address: string; portName: string; hostPort: number; protocol: string; ready: boolean }> }).endpoints;
  expect(endpoints.map((e) => [e.name, e.portName, e.protocol, e.ready])).toEqual([
    ["web-0", "http", "tcp", true],
    ["web-1", "http", "tcp", true],
    ["web-2", "http", "tcp", true],
  ]);
  for (const e of endpoints) expect((await fetch(`http://${e.address}:${e.hostPort}/`)).status).toBe(200);
  const table = (await ctl("get", "endpoints")).stdout;
  expect(table).toMatch(/^INSTANCE\s+PORT\s+ENDPOINT\s+READY\s+NODE$/m);
  for (const e of endpoints) expect(table).toMatch(new RegExp(`^${e.name}\\.\\d+\\s+http\\s+127\\.0\\.0\\.1:${e.hostPort}\\s+yes\\s+node-a$`, "m"));
  expect((await ctl("describe", "workload", "web")).stdout).toMatch(new RegExp(`Endpoints:\n  INSTANCE.*\n  web-0\\.\\d+\\s+http\\s+127\\.0\\.0\\.1:${endpoints[0]!.hostPort}\\s+yes`));
});

test("an endpoints watch sees a copy flip to not ready when its readiness check starts failing", async () => {
  const flag = join(h.dir, "flip-ready");
  writeFileSync(flag, "");
  await apply({
    name: "flip",
    spec: {
      command: "/bin/sleep",
      args: ["3600"],
      ports: [{ name: "http" }],
      checks: [{ name: "flag", exec: { command: "/usr/bin/test", args: ["-f", flag] }, interval: "0.2s", failureThreshold: 1 }],
    },
  });
  const { creds, options } = adminChannel(join(h.dir, "control"));
  const client = new ControlPlaneClient(address, creds, options);
  const got: WatchEndpointsResponse[] = [];
  const call = client.watchEndpoints({ workload: "flip" });
  call.on("data", (m: WatchEndpointsResponse) => got.push(m));
  call.on("error", () => {});
  try {
    await eventually("flip-0 seen Ready", () => (got.some((m) => m.endpoint?.name === "flip-0" && m.endpoint.ready) ? true : undefined), 15_000);
    rmSync(flag);
    const flipped = await eventually("flip-0 seen not Ready", () => got.find((m) => m.change === EndpointChange.ENDPOINT_CHANGE_CHANGED && m.endpoint?.ready === false), 10_000);
    expect(flipped.endpoint).toMatchObject({ workload: "flip", name: "flip-0", portName: "http", address: "127.0.0.1" });
    // Deleting the workload stops the copy: its endpoint leaves.
    await ctl("delete", "workload", "flip");
    await eventually("flip-0 removed", () => (got.some((m) => m.change === EndpointChange.ENDPOINT_CHANGE_REMOVED && m.endpoint?.name === "flip-0") ? true : undefined), 10_000);
  } finally {
    call.cancel();
    client.close();
  }
});

test("a static port on a one-node fleet: the second copy stays Pending, naming the port, the node and its holder", async () => {
  const [port] = [range.to];
  await apply({ name: "fixed", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2, ports: [{ name: "http", static: port }] } });
  const pending = await eventually("fixed-1 Pending with its reason", async () => (await instances("fixed")).find((i) => i.name === "fixed-1" && i.reason));
  expect(pending.observedState).toBe("INSTANCE_STATE_PENDING");
  expect(pending.reason).toBe(`no node fits (1 port ${port} taken on node-a by fixed-0)`);
  const held = (await instances("fixed")).find((i) => i.name === "fixed-0")!;
  expect(held.ports).toEqual([{ name: "http", hostPort: port, protocol: "tcp" }]);
  await ctl("delete", "workload", "fixed");
});

test("a port another program holds: the copy fails saying so, not as a crash of what it runs", async () => {
  const squatter = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    await apply({ name: "squat", spec: { command: "/bin/sleep", args: ["3600"], ports: [{ name: "http", static: squatter.port }] } });
    const failed = await eventually("squat-0 failed with the reason", async () => (await instances("squat")).find((i) => i.reason?.includes("taken by another program")));
    expect(failed.reason).toContain(`port ${squatter.port}/tcp on 127.0.0.1 (http) is taken by another program`);
  } finally {
    squatter.stop(true);
    await ctl("delete", "workload", "squat");
  }
});

test("bad ports are refused at apply, naming the field", async () => {
  const file = join(h.dir, "bad-ports.json");
  writeFileSync(file, JSON.stringify({ name: "bad", spec: { command: "/bin/sleep", args: ["${TESSERA_PORT_WEB}"], ports: [{ name: "http", to: 80 }] } }));
  const res = await ctl("apply", "-f", file);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain("workload.spec.ports[0].to: expected no container port for a process workload");
});

describe.skipIf(docker.skip)("with docker", () => {
  test("a busybox httpd container answers on its published port", async () => {
    docker.require();
    await apply({
      name: "box",
      spec: {
        image: IMAGE,
        command: "/bin/sh",
        args: ["-c", "busybox mkdir -p /www && echo hello from $TESSERA_INSTANCE on $TESSERA_PORT_WEB > /www/index.html && exec busybox httpd -f -p 80 -h /www"],
        ports: [{ name: "web", to: 80 }],
        checks: [{ name: "web", http: { portName: "web" }, interval: "0.3s" }],
        stopGracePeriod: "1s",
      },
    });
    const copy = await eventually("box-0 Ready", async () => (await instances("box")).find((i) => i.ready), 20_000);
    const p = copy.ports![0]!;
    expect(p).toMatchObject({ name: "web", protocol: "tcp", containerPort: 80 });
    expect(await (await fetch(`http://${copy.address}:${p.hostPort}/`)).text()).toBe("hello from box-0 on 80\n");
  });
});
