/**
 * ListEndpoints and WatchEndpoints against a control plane and a simulated agent in process:
 * paging follows endpointsOf's order, a watch gets its snapshot (ADDED each, then SYNCED)
 * before any change, changes carry the sequence of the commit that made them, and watching
 * again gives a fresh snapshot of what holds now.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { Agent } from "../../src/agent/agent.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { ControlPlaneClient, EndpointChange, type ListEndpointsResponse, type WatchEndpointsResponse } from "../../src/gen/tessera/v1/control_plane.js";
import type { Endpoint } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let cp: RunningControlPlane;
let agent: Agent;
let dir: string;
let c: ControlPlaneClient;

const web = (replicas: number) => spec({ replicas, ports: [{ name: "http", protocol: "" }, { name: "admin", protocol: "udp" }] });
const apply = (name: string, replicas: number) =>
  new Promise<void>((resolve, reject) => c.applyWorkload({ workload: { name, labels: {}, spec: web(replicas), generation: 0 } }, (err) => (err ? reject(err) : resolve())));
const list = (workload: string, pageSize = 0, pageToken = "") =>
  new Promise<ListEndpointsResponse>((resolve, reject) => c.listEndpoints({ workload, pageSize, pageToken }, (err, res) => (err ? reject(err) : resolve(res))));

async function listAll(workload: string, pageSize: number): Promise<{ endpoints: Endpoint[]; pages: number }> {
  const endpoints: Endpoint[] = [];
  let token = "";
  let pages = 0;
  do {
    const res = await list(workload, pageSize, token);
    endpoints.push(...res.endpoints);
    token = res.nextPageToken;
    pages++;
  } while (token !== "");
  return { endpoints, pages };
}

/** A watch recording every message; `close` cancels it. */
function watch(workload: string) {
  const got: WatchEndpointsResponse[] = [];
  const call = c.watchEndpoints({ workload });
  call.on("data", (m: WatchEndpointsResponse) => got.push(m));
  call.on("error", () => {});
  return { got, close: () => call.cancel() };
}

/** The endpoints a watcher holds after applying what it got, keyed by instance and port. */
function held(got: WatchEndpointsResponse[]): Map<string, Endpoint> {
  const out = new Map<string, Endpoint>();
  for (const m of got) {
    if (m.change === EndpointChange.ENDPOINT_CHANGE_SYNCED) continue;
    const key = `${m.endpoint!.instance}/${m.endpoint!.portName}`;
    if (m.change === EndpointChange.ENDPOINT_CHANGE_REMOVED) out.delete(key);
    else out.set(key, m.endpoint!);
  }
  return out;
}
const keysOf = (endpoints: Iterable<Endpoint>) => [...endpoints].map((e) => `${e.instance}/${e.portName}`).sort();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-endpoints-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 100, insecure: true });
  c = new ControlPlaneClient(cp.address, credentials.createInsecure());
  agent = new Agent({
    control: cp.address,
    node: "node-a",
    executor: new SimulatedExecutor(),
    version: "test",
    labels: {},
    capacity: { cpuMillis: 100_000, memoryMb: 100_000 },
    ports: { address: "127.0.0.1", range: { from: 30000, to: 30100 }, reserved: [] },
    hostVolumes: [],
    log: silent,
    heartbeatMs: 200,
  });
  await agent.start();
});
afterAll(async () => {
  agent.close();
  c.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("ListEndpoints pages through every endpoint in endpointsOf's order, of one workload or all", async () => {
  await apply("api", 2);
  await apply("web", 3);
  const all = await eventually("5 copies with 2 ports each", async () => {
    const res = await list("");
    return res.endpoints.length === 10 && res.endpoints.every((e) => e.ready) ? res.endpoints : undefined;
  });
  expect(all.map((e) => [e.workload, e.name, e.portName])).toEqual(
    ["api-0", "api-1", "web-0", "web-1", "web-2"].flatMap((n) => [
      [n.slice(0, 3), n, "admin"],
      [n.slice(0, 3), n, "http"],
    ]),
  );
  for (const e of all) {
    expect(e).toMatchObject({ node: "node-a", address: "127.0.0.1", protocol: e.portName === "admin" ? "udp" : "tcp" });
    expect(e.hostPort).toBeGreaterThanOrEqual(30000);
  }
  // Ports are unique per protocol on the node.
  expect(new Set(all.map((e) => `${e.protocol}/${e.hostPort}`)).size).toBe(10);
  const paged = await listAll("", 3);
  expect(paged).toEqual({ endpoints: all, pages: 4 });
  const ofWeb = await listAll("web", 4);
  expect(ofWeb).toEqual({ endpoints: all.filter((e) => e.workload === "web"), pages: 2 });
  // A token is bound to its request.
  const first = await list("web", 1);
  const other = await new Promise<{ code: status; details: string }>((r) => c.listEndpoints({ workload: "api", pageSize: 1, pageToken: first.nextPageToken }, (e) => r(e as never)));
  expect(other.code).toBe(status.INVALID_ARGUMENT);
  expect(other.details).toMatch(/^page_token: /);
  const missing = await new Promise<{ code: status }>((r) => c.listEndpoints({ workload: "nope", pageSize: 0, pageToken: "" }, (e) => r(e as never)));
  expect(missing.code).toBe(status.NOT_FOUND);
});

test("a watch gets its snapshot, then each change with the sequence of its commit; watching again starts from a fresh snapshot", async () => {
  const w = watch("web");
  const synced = await eventually("the snapshot", () => {
    const at = w.got.findIndex((m) => m.change === EndpointChange.ENDPOINT_CHANGE_SYNCED);
    return at >= 0 ? at : undefined;
  });
  // The snapshot is the 3 copies of web, ADDED, all at one sequence, and nothing else.
  const snapshot = w.got.slice(0, synced);
  expect(snapshot.every((m) => m.change === EndpointChange.ENDPOINT_CHANGE_ADDED)).toBe(true);
  expect(keysOf(snapshot.map((m) => m.endpoint!))).toEqual(keysOf((await list("web")).endpoints));
  const at = w.got[synced]!.sequence;
  expect(at).toBeGreaterThan(0);
  expect(snapshot.every((m) => m.sequence === at)).toBe(true);

  // Down to one copy, then up to two: web-1 and web-2 leave, a new web-1 comes (not yet ready, then ready).
  await apply("web", 1);
  await eventually("web-1 and web-2 removed", () => (held(w.got).size === 2 ? true : undefined));
  await apply("api", 3); // another workload's changes reach only watchers of it
  await apply("web", 2);
  const now = await eventually("web-1 back and ready", async () => {
    const listed = (await list("web")).endpoints;
    const h = held(w.got);
    return listed.length === 4 && listed.every((e) => e.ready) && JSON.stringify(keysOf(h.values())) === JSON.stringify(keysOf(listed)) && [...h.values()].every((e) => e.ready) ? listed : undefined;
  });
  const changes = w.got.slice(synced + 1);
  expect(changes.every((m) => m.endpoint!.workload === "web")).toBe(true);
  expect(changes.filter((m) => m.change === EndpointChange.ENDPOINT_CHANGE_REMOVED).map((m) => m.endpoint!.name).sort()).toEqual(["web-1", "web-1", "web-2", "web-2"]);
  expect(changes.filter((m) => m.change === EndpointChange.ENDPOINT_CHANGE_ADDED).map((m) => m.endpoint!.name)).toEqual(["web-1", "web-1"]);
  // Every change comes after the snapshot's sequence, in commit order.
  const seqs = changes.map((m) => m.sequence);
  expect(seqs.every((s) => s > at)).toBe(true);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  w.close();

  // A client that lost its stream watches again: a fresh snapshot of what holds now.
  const again = watch("web");
  await eventually("the second snapshot", () => (again.got.some((m) => m.change === EndpointChange.ENDPOINT_CHANGE_SYNCED) ? true : undefined));
  expect([...held(again.got).values()]).toEqual(expect.arrayContaining(now));
  expect(held(again.got).size).toBe(now.length);
  expect(again.got.at(-1)!.sequence).toBeGreaterThanOrEqual(seqs.at(-1)!);
  again.close();
});

test("a watch of everything, or of a workload not applied yet, starts with its snapshot and SYNCED", async () => {
  const all = watch("");
  const later = watch("later");
  await eventually("both synced", () => (all.got.some((m) => m.change === EndpointChange.ENDPOINT_CHANGE_SYNCED) && later.got.length === 1 ? true : undefined));
  expect(held(all.got).size).toBe((await list("")).endpoints.length);
  expect(later.got[0]!.change).toBe(EndpointChange.ENDPOINT_CHANGE_SYNCED);
  await apply("later", 1);
  await eventually("later's copy seen", () => (held(later.got).size === 2 ? true : undefined));
  all.close();
  later.close();
});
