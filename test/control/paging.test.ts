/**
 * Paging of the List RPCs and GetHistory (AIP-158) against a control plane in process: page
 * boundaries, pages cut by size well under the 4 MiB message limit, tokens that neither skip
 * nor repeat when workloads come and go between pages, and refusals of a bad page_size or
 * page_token that name the field; and GetNode's recent events, bounded like GetWorkload's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallOptions, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { DEFAULT_PAGE_SIZE, MAX_MESSAGE_BYTES, MAX_PAGE_SIZE } from "../../src/core/views/paging.js";
import { AgentGatewayClient } from "../../src/gen/tessera/v1/agent_gateway.js";
import {
  ControlPlaneClient,
  GetHistoryResponse,
  GetWorkloadResponse,
  type ListInstancesRequest,
  ListInstancesResponse,
  type ListNodesRequest,
  type ListNodesResponse,
  type ListWorkloadsRequest,
  ListWorkloadsResponse,
} from "../../src/gen/tessera/v1/control_plane.js";
import type { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";
import { bareHello } from "./bare-hello.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let cp: RunningControlPlane;
let dir: string;
let c: ControlPlaneClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-paging-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 100, insecure: true });
  c = new ControlPlaneClient(cp.address, credentials.createInsecure());
});
afterAll(async () => {
  c.close();
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Answer<Res> = { ok: true; res: Res } | { ok: false; code: string; details: string };
/** A client method by its last overload, the one TypeScript infers from. */
type Method<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;
function ask<Req, Res>(method: Method<Req, Res>, req: Req): Promise<Answer<Res>> {
  return new Promise((resolve) => method.call(c, req, new Metadata(), {}, (err, res) => resolve(err ? { ok: false, code: status[err.code], details: err.details } : { ok: true, res })));
}
async function must<Req, Res>(method: Method<Req, Res>, req: Req): Promise<Res> {
  const a = await ask(method, req);
  if (!a.ok) throw new Error(`${a.code}: ${a.details}`);
  return a.res;
}

/** Stopped (0 replicas): applied and deleted within one turn, no node needed. */
const stopped = (over: Partial<WorkloadSpec> = {}) => spec({ replicas: 0, ...over });
const apply = (name: string, s: WorkloadSpec = stopped()) => must(c.applyWorkload, { workload: { name, labels: {}, spec: s, generation: 0 } });
const remove = (name: string) => must(c.deleteWorkload, { name });
const listWorkloads = (page: Partial<ListWorkloadsRequest>) => must(c.listWorkloads, { pageSize: 0, pageToken: "", ...page });

/** Every page of ListWorkloads at `pageSize`, with each page's names. */
async function pagesOfWorkloads(pageSize: number): Promise<string[][]> {
  const pages: string[][] = [];
  let pageToken = "";
  do {
    const res = await listWorkloads({ pageSize, pageToken });
    pages.push(res.workloads.map((w) => w.name));
    pageToken = res.nextPageToken;
  } while (pageToken !== "" && pages.length < 100);
  return pages;
}

/** Deletes every workload; waits (with a deadline) until those with instances are gone too. */
async function clearWorkloads(): Promise<void> {
  for (const page of await pagesOfWorkloads(MAX_PAGE_SIZE)) for (const name of page) await remove(name);
  await eventually("every workload gone", async () => ((await listWorkloads({})).workloads.length === 0 ? true : undefined), 10_000, 20);
}

describe("ListWorkloads", () => {
  test("pages hold page_size items in name order; the last page has no token", async () => {
    const names = ["w-01", "w-02", "w-03", "w-04", "w-05", "w-06", "w-07"];
    for (const n of [...names].reverse()) await apply(n);
    expect(await pagesOfWorkloads(3)).toEqual([names.slice(0, 3), names.slice(3, 6), names.slice(6)]);
    expect(await pagesOfWorkloads(7)).toEqual([names]);
    // page_size 0 is the default; larger than the maximum is read as the maximum.
    const all = await listWorkloads({});
    expect([all.workloads.length, all.nextPageToken]).toEqual([7, ""]);
    expect((await listWorkloads({ pageSize: 2 ** 31 - 1 })).workloads.length).toBe(7);
    expect(DEFAULT_PAGE_SIZE).toBeLessThanOrEqual(MAX_PAGE_SIZE);
    await clearWorkloads();
  });

  test("workloads added or deleted between pages are neither skipped nor repeated", async () => {
    for (const n of ["w-01", "w-02", "w-03", "w-04", "w-05", "w-06", "w-07"]) await apply(n);
    const first = await listWorkloads({ pageSize: 3 });
    expect(first.workloads.map((w) => w.name)).toEqual(["w-01", "w-02", "w-03"]);
    // Before the cursor: one returned already is deleted, one new sorts before it. After it:
    // one not yet returned is deleted, one new sorts between the pages.
    await remove("w-02");
    await apply("w-00");
    await remove("w-05");
    await apply("w-035");
    const rest: string[] = [];
    let pageToken = first.nextPageToken;
    while (pageToken !== "") {
      const res = await listWorkloads({ pageSize: 3, pageToken });
      rest.push(...res.workloads.map((w) => w.name));
      pageToken = res.nextPageToken;
    }
    expect(rest).toEqual(["w-035", "w-04", "w-06", "w-07"]);
    // A token names the last workload returned: deleting that one does not lose the place.
    const again = await listWorkloads({ pageSize: 2 });
    await remove(again.workloads[1]!.name);
    expect([again.workloads[1]!.name, ...(await listWorkloads({ pageSize: 2, pageToken: again.nextPageToken })).workloads.map((w) => w.name)]).toEqual(["w-01", "w-03", "w-035"]);
    await clearWorkloads();
  });

  test("18 workloads of 240 KB (over 4 MiB together) come in pages under the message limit", async () => {
    // As reported from use: before answers were paged by size, these made every ListWorkloads fail with RESOURCE_EXHAUSTED.
    for (let n = 0; n < 18; n++) await apply(`big-${String(n).padStart(2, "0")}`, stopped({ env: { BLOB: `${n}`.padEnd(240_000, "x") } }));
    const sizes: number[] = [];
    const names: string[] = [];
    let pageToken = "";
    do {
      const res = await listWorkloads({ pageSize: MAX_PAGE_SIZE, pageToken });
      sizes.push(ListWorkloadsResponse.encode(res).finish().length);
      names.push(...res.workloads.map((w) => w.name));
      expect(res.workloads.length).toBeGreaterThan(0);
      pageToken = res.nextPageToken;
    } while (pageToken !== "");
    expect(names).toEqual(Array.from({ length: 18 }, (_, n) => `big-${String(n).padStart(2, "0")}`));
    // Cut short of page_size, each well under the limit.
    expect(sizes.length).toBeGreaterThan(1);
    for (const s of sizes) expect(s).toBeLessThan(MAX_MESSAGE_BYTES * 0.6);
    await clearWorkloads();
  });

  test.each([
    ["garbage", "not-a-token"],
    ["base64 of something else", Buffer.from('{"hello":1}').toString("base64url")],
  ])("a page_token that is %s is INVALID_ARGUMENT naming page_token", async (_, pageToken) => {
    const a = await ask(c.listWorkloads, { pageSize: 0, pageToken });
    expect(a.ok ? "OK" : [a.code, a.details.split(":")[0]]).toEqual(["INVALID_ARGUMENT", "page_token"]);
  });

  test("a token of another method or another request is INVALID_ARGUMENT naming page_token", async () => {
    await apply("tok-a", spec({ replicas: 3 }));
    await apply("tok-b", spec({ replicas: 3 }));
    const workloadsToken = (await listWorkloads({ pageSize: 1 })).nextPageToken;
    expect(workloadsToken).not.toBe("");
    const instancesToken = (await must(c.listInstances, { workload: "tok-a", pageSize: 1, pageToken: "" })).nextPageToken;
    expect(instancesToken).not.toBe("");
    const refusals = [
      await ask(c.listNodes, { pageSize: 0, pageToken: workloadsToken }),
      await ask(c.listInstances, { workload: "", pageSize: 0, pageToken: workloadsToken }),
      await ask(c.listInstances, { workload: "tok-b", pageSize: 0, pageToken: instancesToken }),
      await ask(c.getHistory, { workload: "tok-a", limit: 0, pageSize: 0, pageToken: instancesToken }),
    ];
    for (const a of refusals) expect(a.ok ? "OK" : [a.code, a.details.startsWith("page_token: expected ")]).toEqual(["INVALID_ARGUMENT", true]);
    await clearWorkloads();
  });

  test("a negative page_size is INVALID_ARGUMENT naming page_size, on every paged method", async () => {
    const answers = [
      await ask(c.listWorkloads, { pageSize: -1, pageToken: "" }),
      await ask(c.listNodes, { pageSize: -5, pageToken: "" }),
      await ask(c.listInstances, { workload: "", pageSize: -(2 ** 31), pageToken: "" }),
      await ask(c.getHistory, { workload: "any", limit: 0, pageSize: -1, pageToken: "" }),
    ];
    for (const a of answers) expect(a.ok ? "OK" : [a.code, a.details.startsWith("page_size: expected ")]).toEqual(["INVALID_ARGUMENT", true]);
  });
});

describe("ListInstances and ListNodes", () => {
  test("instances page by workload, replica and id, of all workloads or of one", async () => {
    // Replicas wait unplaced: there are no nodes.
    await apply("inst-a", spec({ replicas: 3 }));
    await apply("inst-b", spec({ replicas: 2 }));
    const collect = async (workload: string, pageSize: number) => {
      const ids: string[] = [];
      let pageToken = "";
      do {
        const res = await must(c.listInstances, { workload, pageSize, pageToken } satisfies ListInstancesRequest);
        expect(res.instances.length).toBeLessThanOrEqual(pageSize);
        ids.push(...res.instances.map((i) => i.name));
        pageToken = res.nextPageToken;
      } while (pageToken !== "");
      return ids;
    };
    expect(await collect("", 2)).toEqual(["inst-a-0", "inst-a-1", "inst-a-2", "inst-b-0", "inst-b-1"]);
    expect(await collect("inst-b", 1)).toEqual(["inst-b-0", "inst-b-1"]);
    const whole = await must(c.listInstances, { workload: "", pageSize: 0, pageToken: "" });
    expect(ListInstancesResponse.toJSON(whole)).not.toHaveProperty("nextPageToken");
    await clearWorkloads();
  });

  test("nodes page by name", async () => {
    const agents = new AgentGatewayClient(cp.address, credentials.createInsecure());
    const streams = ["node-c", "node-a", "node-b"].map((node) => {
      const s = agents.connect();
      s.on("data", () => {});
      s.on("error", () => {});
      s.write(bareHello(node));
      return s;
    });
    try {
      await eventually("three nodes", async () => ((await must(c.listNodes, { pageSize: 0, pageToken: "" })).nodes.length === 3 ? true : undefined), 10_000, 20);
      const first: ListNodesResponse = await must(c.listNodes, { pageSize: 2, pageToken: "" } satisfies ListNodesRequest);
      const second: ListNodesResponse = await must(c.listNodes, { pageSize: 2, pageToken: first.nextPageToken });
      expect([first.nodes.map((n) => n.name), second.nodes.map((n) => n.name), second.nextPageToken]).toEqual([["node-a", "node-b"], ["node-c"], ""]);
    } finally {
      for (const s of streams) s.end();
      agents.close();
    }
  });
});

describe("GetHistory and GetWorkload", () => {
  const history = async (workload: string, limit: number, pageSize: number) => {
    const pages: number[][] = [];
    let pageToken = "";
    do {
      const res: GetHistoryResponse = await must(c.getHistory, { workload, limit, pageSize, pageToken });
      pages.push(res.events.map((e) => e.sequence));
      pageToken = res.nextPageToken;
    } while (pageToken !== "");
    return pages;
  };

  test("history pages oldest first; a limit keeps the last N over all pages, fixed by the first", async () => {
    for (let n = 1; n <= 5; n++) await apply("hist", stopped({ args: [String(n)] }));
    const all = (await history("hist", 0, 0)).flat();
    expect(all.length).toBe(5);
    expect(await history("hist", 0, 2)).toEqual([all.slice(0, 2), all.slice(2, 4), all.slice(4)]);
    expect(await history("hist", 3, 2)).toEqual([all.slice(2, 4), all.slice(4)]);
    expect(await history("hist", 2, 2)).toEqual([all.slice(3)]);
    // A change committed between pages is after the window the first page fixed.
    const first: GetHistoryResponse = await must(c.getHistory, { workload: "hist", limit: 3, pageSize: 2, pageToken: "" });
    await apply("hist", stopped({ args: ["6"] }));
    const rest: GetHistoryResponse = await must(c.getHistory, { workload: "hist", limit: 3, pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.events, ...rest.events].map((e) => e.sequence)).toEqual(all.slice(2));
    expect(rest.nextPageToken).toBe("");
    // The largest limit the field holds is a limit like any other.
    const most: GetHistoryResponse = await must(c.getHistory, { workload: "hist", limit: 2 ** 32 - 1, pageSize: 0, pageToken: "" });
    expect(most.events.length).toBe(6);
    await remove("hist");
  });

  test("large specs applied often: history pages and GetWorkload stay under the message limit", async () => {
    // Each WorkloadApplied event holds the spec and the one before it: ~480 KB here.
    for (let n = 0; n < 12; n++) await apply("heavy", stopped({ env: { BLOB: `${n}`.padEnd(240_000, "x") } }));
    const got: GetWorkloadResponse = await must(c.getWorkload, { name: "heavy" });
    expect(GetWorkloadResponse.encode(got).finish().length).toBeLessThan(MAX_MESSAGE_BYTES * 0.75);
    expect(got.events.length).toBeGreaterThan(0);
    expect(got.events.at(-1)!.detail).toContain(`"BLOB":"11x`);
    let pageToken = "";
    let events = 0;
    do {
      const res: GetHistoryResponse = await must(c.getHistory, { workload: "heavy", limit: 0, pageSize: 0, pageToken });
      expect(GetHistoryResponse.encode(res).finish().length).toBeLessThan(MAX_MESSAGE_BYTES * 0.75);
      events += res.events.length;
      pageToken = res.nextPageToken;
    } while (pageToken !== "");
    expect(events).toBe(12);
    await remove("heavy");
  });
});

describe("GetNode", () => {
  test("a node's events are its newest 20, oldest first, and only its own", async () => {
    const agents = new AgentGatewayClient(cp.address, credentials.createInsecure());
    const lastEvent = async (node: string) => (await must(c.getNode, { name: node })).events.at(-1);
    /** Connects `node` and ends its stream, each recorded: two events. */
    const cycle = async (node: string) => {
      const s = agents.connect();
      s.on("data", () => {});
      s.on("error", () => {});
      s.write(bareHello(node));
      await eventually(`${node} connected`, async () => ((await lastEvent(node))?.type === "NodeConnected" ? true : undefined), 10_000, 20);
      s.end();
      await eventually(`${node} disconnected`, async () => ((await lastEvent(node))?.type === "NodeDisconnected" ? true : undefined), 10_000, 20);
    };
    try {
      await cycle("ev-a");
      const first = (await must(c.getNode, { name: "ev-a" })).events.map((e) => e.sequence);
      await cycle("ev-b");
      for (let n = 0; n < 10; n++) await cycle("ev-a");
      const events = (await must(c.getNode, { name: "ev-a" })).events;
      expect(events).toHaveLength(20);
      expect(events.map((e) => e.sequence)).toEqual(events.map((e) => e.sequence).sort((a, b) => a - b));
      expect(events.map((e) => e.sequence)).not.toContain(first[0]);
      expect(events.every((e) => e.node === "ev-a" && e.summary.startsWith("ev-a "))).toBe(true);
      expect(events.at(-1)!.summary).toBe("ev-a disconnected");
    } finally {
      agents.close();
    }
  });
});
