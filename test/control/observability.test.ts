/**
 * The control plane's observability pieces on their own, without a control plane: the
 * Prometheus registry (src/control/http/metrics.ts) and the HTTP listener that serves it with
 * /healthz and /readyz (src/control/http/http-server.ts). The end-to-end scrape of a running
 * binary is in test/e2e/api.test.ts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { type HttpServer, startHttpServer } from "../../src/control/http/http-server.js";
import { Metrics } from "../../src/control/http/metrics.js";
import { INSTANCE_STATES } from "../../src/core/model/instance-machine.js";
import type { Logger } from "../../src/shell/logger.js";
import { type ClusterState, emptyState } from "../../src/core/model/cluster-state.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { apply, created, nodeConnected, T0, transitioned, workloadApplied } from "../core/fixtures.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

/** Servers still listening; every test's servers are stopped here even when it fails. */
const open = new Set<HttpServer>();
afterAll(async () => {
  await Promise.all([...open].map((s) => s.stop()));
});

function serve(opts: { metrics: Metrics; notReady?: () => string | undefined; refresh?: () => void; listen?: string }): HttpServer {
  const server = startHttpServer({
    listen: opts.listen ?? "127.0.0.1:0",
    metrics: opts.metrics,
    notReady: opts.notReady ?? (() => undefined),
    refresh: opts.refresh ?? (() => {}),
    log: silent,
    names: [],
  });
  open.add(server);
  return server;
}

async function stop(server: HttpServer): Promise<void> {
  await server.stop();
  open.delete(server);
}

/** Two Ready nodes and one Suspect; web-0 Running on node-a, web-1 Scheduled on node-b, web-2 Pending. */
function tinyState(): ClusterState {
  return apply(emptyState(), [
    nodeConnected("node-a", T0),
    nodeConnected("node-b", T0),
    nodeConnected("node-c", T0),
    { type: "NodeHealthChanged", at: T0 + 3_000, name: "node-c", from: "ready", to: "suspect" },
    workloadApplied("web", T0),
    created("web-0.1", T0),
    created("web-1.2", T0),
    created("web-2.3", T0),
    transitioned("web-0.1", T0 + 1, { type: "place", node: "node-a" }),
    transitioned("web-0.1", T0 + 2, { type: "provision" }),
    transitioned("web-0.1", T0 + 3, { type: "run" }),
    transitioned("web-1.2", T0 + 1, { type: "place", node: "node-b" }),
  ]);
}

/** The sample line for `series` (name plus labels, as printed), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("Metrics", () => {
  test("the fleet's heartbeat interval and thresholds, for its size (#33)", async () => {
    const m = new Metrics();
    m.observeState(tinyState(), undefined, DEFAULT_POLICY);
    const small = await m.registry.metrics();
    expect([sample(small, "tessera_heartbeat_interval_seconds"), sample(small, "tessera_node_suspect_after_seconds"), sample(small, "tessera_node_offline_after_seconds")]).toEqual([1, 3, 5]);
    // Three nodes at a cap of one heartbeat a second: every 3 s, Suspect after 5 s, Offline after 7 s.
    m.observeState(tinyState(), undefined, { ...DEFAULT_POLICY, maxHeartbeatsPerSecond: 1 });
    const capped = await m.registry.metrics();
    expect([sample(capped, "tessera_heartbeat_interval_seconds"), sample(capped, "tessera_node_suspect_after_seconds"), sample(capped, "tessera_node_offline_after_seconds")]).toEqual([3, 5, 7]);
  });

  test("observeState sets every health and every state, zeros included", async () => {
    const m = new Metrics();
    m.observeState(tinyState());
    const text = await m.registry.metrics();
    expect(text).toContain('tessera_nodes{health="ready"} 2');
    expect(sample(text, 'tessera_nodes{health="suspect"}')).toBe(1);
    expect(sample(text, 'tessera_nodes{health="offline"}')).toBe(0);
    const expected: Record<string, number> = { running: 1, scheduled: 1, pending: 1 };
    for (const s of INSTANCE_STATES) expect([s, sample(text, `tessera_instances{state="${s}"}`)]).toEqual([s, expected[s] ?? 0]);

    // A gauge follows the state down as well as up.
    m.observeState(emptyState());
    const after = await m.registry.metrics();
    expect(sample(after, 'tessera_nodes{health="ready"}')).toBe(0);
    expect(sample(after, 'tessera_instances{state="running"}')).toBe(0);
  });

  test("reconcile, placements, RPC and commit instruments record what they are given", async () => {
    const m = new Metrics();
    m.observeReconcile(0.0003, 2);
    m.observeReconcile(0.02, 0);
    m.observeRpc("ApplyWorkload", "OK", 0.004);
    m.observeRpc("ApplyWorkload", "OK", 0.006);
    m.observeRpc("GetWorkload", "NOT_FOUND", 0.0002);
    m.observeCommit(0.0015);
    const text = await m.registry.metrics();
    expect(sample(text, "tessera_reconcile_duration_seconds_count")).toBe(2);
    expect(sample(text, "tessera_reconcile_duration_seconds_sum")).toBeCloseTo(0.0203, 9);
    expect(sample(text, 'tessera_reconcile_duration_seconds_bucket{le="0.0005"}')).toBe(1);
    expect(sample(text, 'tessera_reconcile_duration_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(sample(text, "tessera_placements_total")).toBe(2);
    expect(sample(text, 'tessera_rpc_duration_seconds_count{method="ApplyWorkload",code="OK"}')).toBe(2);
    expect(sample(text, 'tessera_rpc_duration_seconds_count{method="GetWorkload",code="NOT_FOUND"}')).toBe(1);
    expect(sample(text, 'tessera_rpc_duration_seconds_bucket{le="0.005",method="ApplyWorkload",code="OK"}')).toBe(1);
    expect(sample(text, "tessera_store_commit_duration_seconds_count")).toBe(1);
    expect(sample(text, "tessera_store_commit_duration_seconds_sum")).toBeCloseTo(0.0015, 9);
  });

  test("default process metrics carry the tessera_ prefix", async () => {
    const text = await new Metrics().registry.metrics();
    expect(text).toMatch(/^tessera_process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^tessera_process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^tessera_nodejs_heap_size_used_bytes \d/m);
    expect(text).not.toMatch(/^process_cpu_seconds_total /m);
  });

  test("no per-heap-space gauges: under Bun they walk the whole heap on every scrape", async () => {
    const text = await new Metrics().registry.metrics();
    expect(text).not.toContain("heap_space");
  });

  test("several registries live in one process, each with its own values", async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.observeReconcile(0.001, 5);
    expect(sample(await a.registry.metrics(), "tessera_placements_total")).toBe(5);
    expect(sample(await b.registry.metrics(), "tessera_placements_total")).toBe(0);
  });
});

describe("HTTP listener", () => {
  test("/metrics, /healthz, /readyz and 404 for anything else", async () => {
    const metrics = new Metrics();
    const state = tinyState();
    let refreshes = 0;
    let problem: string | undefined = "store full";
    const server = serve({
      metrics,
      notReady: () => problem,
      refresh: () => {
        refreshes++;
        metrics.observeState(state);
      },
    });
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.address.endsWith(":0")).toBe(false);
    const url = (path: string) => `http://${server.address}${path}`;

    const healthz = await fetch(url("/healthz"));
    expect([healthz.status, await healthz.text()]).toEqual([200, "ok\n"]);

    const notReady = await fetch(url("/readyz"));
    expect([notReady.status, await notReady.text()]).toEqual([503, "not ready: store full\n"]);
    problem = undefined;
    const isReady = await fetch(url("/readyz"));
    expect([isReady.status, await isReady.text()]).toEqual([200, "ready\n"]);

    metrics.observeReconcile(0.002, 3);
    metrics.observeRpc("ApplyWorkload", "OK", 0.01);
    metrics.observeCommit(0.001);
    const res = await fetch(url("/metrics"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(metrics.registry.contentType);
    const text = await res.text();
    expect(refreshes).toBe(1); // the gauges are brought up to date by each scrape
    expect(text).toContain('tessera_nodes{health="ready"} 2');
    expect(text).toContain('tessera_instances{state="running"} 1');
    expect(text).toContain("tessera_placements_total 3");
    expect(text).toContain("tessera_reconcile_duration_seconds_count 1");
    expect(text).toContain('tessera_rpc_duration_seconds_count{method="ApplyWorkload",code="OK"} 1');
    expect(text).toContain("tessera_store_commit_duration_seconds_count 1");
    expect(text).toMatch(/^tessera_process_cpu_seconds_total \d/m);

    for (const path of ["/nope", "/metrics/extra"]) expect([path, (await fetch(url(path))).status]).toEqual([path, 404]);
    // The page and its API while no term serves them (a standby, a start): 503 saying why.
    for (const path of ["/", "/api/session"]) {
      const res = await fetch(url(path));
      expect([path, res.status, await res.json()]).toEqual([path, 503, { error: "not ready: starting" }]);
    }
    await stop(server);
  });

  test("the bound address is logged at info", async () => {
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log: Logger = { error() {}, warn() {}, debug() {}, info: (msg, fields) => lines.push({ msg, fields }), with: () => log };
    const server = startHttpServer({ listen: "127.0.0.1:0", metrics: new Metrics(), notReady: () => undefined, refresh: () => {}, log, names: [] });
    open.add(server);
    expect(lines.some((l) => l.fields?.address === server.address)).toBe(true);
    await stop(server);
  });

  test("stop() frees the port: a second listener can bind the same one", async () => {
    const first = serve({ metrics: new Metrics() });
    const address = first.address;
    expect((await fetch(`http://${address}/healthz`)).status).toBe(200);
    await stop(first);
    await expect(fetch(`http://${address}/healthz`)).rejects.toThrow();

    const second = serve({ metrics: new Metrics(), listen: address });
    expect(second.address).toBe(address);
    expect((await fetch(`http://${address}/healthz`)).status).toBe(200);
    await stop(second);
  });

  test("a malformed listen address is refused", () => {
    expect(() => serve({ metrics: new Metrics(), listen: "127.0.0.1:http" })).toThrow(/host:port/);
    expect(() => serve({ metrics: new Metrics(), listen: "127.0.0.1:70000" })).toThrow(/host:port/);
  });
});
