/**
 * GET /v1/events/stream (issue 34): NDJSON of proto3 JSON Events, resumable by sequence with
 * neither gap nor repeat across a dropped connection, filtered by topic and key, SSE with ids
 * that EventSource sends back, heartbeats while idle, refusals as google.rpc.Status, and
 * counted in the per-token stream limit (it is the Watch RPC).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import { serveEventStream } from "../../src/control/http/event-stream.js";
import { createRpc } from "../../src/control/grpc/rpc.js";
import type { EventHistory } from "../../src/control/store/store.js";
import { MAX_STREAMS_PER_TOKEN } from "../../src/control/writer/stream-limits.js";
import { WatchHub } from "../../src/control/writer/watch-hub.js";
import { createWatchHandler } from "../../src/control/grpc/watch-service.js";
import type { Logger } from "../../src/shell/logger.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
let cp: RunningControlPlane;
let dir: string;
let admin: string;
const base = () => `http://${cp.httpAddress}`;
const auth = () => ({ authorization: `Bearer ${admin}`, "content-type": "application/json" });

type Event = { sequence: string; type: string; workload?: string };

async function apply(name: string, replicas = 0) {
  const res = await fetch(`${base()}/v1/workloads/${name}`, { method: "PUT", headers: auth(), body: JSON.stringify({ spec: { command: "/bin/sleep", args: ["1000"], replicas } }) });
  expect(res.status).toBe(200);
}

/** Opens the stream and reads its lines until `until` says stop or the deadline passes; the connection is then dropped. */
async function read(query: string, until: (lines: string[]) => boolean, headers: Record<string, string> = {}, deadlineMs = 10_000) {
  const abort = new AbortController();
  const res = await fetch(`${base()}/v1/events/stream${query}`, { headers: { ...auth(), ...headers }, signal: abort.signal });
  const lines: string[] = [];
  if (res.ok) {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    const deadline = Date.now() + deadlineMs;
    while (!until(lines) && Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => undefined)]);
      if (!chunk || chunk.done) break;
      buf += decoder.decode(chunk.value, { stream: true });
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
    }
  }
  abort.abort();
  return { res, lines };
}

const events = (lines: string[]) => lines.filter((l) => l.startsWith("{\"")).map((l) => JSON.parse(l) as Event);
const seqs = (es: Event[]) => es.map((e) => Number(e.sequence));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-event-stream-"));
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200, metricsListen: "127.0.0.1:0" });
  admin = readFileSync(join(dir, "admin-token"), "utf8").trim();
  for (const name of ["web", "db", "cache"]) await apply(name);
});
afterAll(async () => {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the event stream", () => {
  test("resumes after a dropped connection with neither gap nor repeat", async () => {
    const first = await read("?from=0", (l) => events(l).length >= 2);
    expect(first.res.headers.get("content-type")).toBe("application/x-ndjson");
    const seen = events(first.lines).slice(0, 2);
    // Commits while no one is connected.
    for (const name of ["q-1", "q-2", "q-3"]) await apply(name);
    const last = seqs(seen).at(-1)!;
    const second = await read(`?from=${last + 1}`, (l) => events(l).some((e) => e.workload === "q-3"));
    const all = seqs([...seen, ...events(second.lines)]);
    expect(all[0]).toBe(1);
    expect(all).toEqual(all.map((_, i) => i + 1));
    expect(events(second.lines).map((e) => e.workload)).toEqual(expect.arrayContaining(["q-1", "q-2", "q-3"]));
  });

  test("a filtered stream sees only its topic and key", async () => {
    await apply("web", 1);
    const { lines } = await read("?from=0&topic=Workload&key=web", (l) => events(l).length >= 2);
    const got = events(lines);
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(got.filter((e) => !e.type.startsWith("Workload") || e.workload !== "web")).toEqual([]);
    const bad = await fetch(`${base()}/v1/events/stream?topic=Weather`, { headers: auth() });
    expect([bad.status, ((await bad.json()) as { message: string }).message]).toEqual([400, expect.stringContaining("topic")]);
  });

  test("live events follow the retained ones; idle, heartbeats come", async () => {
    const following = read("?from=0&key=late", (l) => events(l).length >= 1 && l.includes("{}"), {}, 15_000);
    await apply("late");
    const { lines } = await following;
    expect(events(lines)[0]!.workload).toBe("late");
    expect(lines).toContain("{}");
  }, 20_000);

  test("as Server-Sent Events, each event's id is its sequence, and Last-Event-ID resumes after it", async () => {
    const sse = { accept: "text/event-stream" };
    const first = await read("?topic=Workload", (l) => l.filter((x) => x.startsWith("id: ")).length >= 2, sse);
    expect(first.res.headers.get("content-type")).toBe("text/event-stream");
    const ids = first.lines.filter((x) => x.startsWith("id: ")).map((x) => Number(x.slice(4)));
    const data = first.lines.filter((x) => x.startsWith("data: ")).map((x) => JSON.parse(x.slice(6)) as Event);
    expect(seqs(data.slice(0, 2))).toEqual(ids.slice(0, 2));
    const resumed = await read("?topic=Workload", (l) => l.some((x) => x.startsWith("id: ")), { ...sse, "last-event-id": String(ids[0]) });
    expect(Number(resumed.lines.find((x) => x.startsWith("id: "))!.slice(4))).toBe(ids[1]!);
  });

  test("refusals come before the stream, as google.rpc.Status: no token, a bad from", async () => {
    const none = await fetch(`${base()}/v1/events/stream`);
    expect([none.status, ((await none.json()) as { code: number }).code]).toEqual([401, status.UNAUTHENTICATED]);
    const bad = await fetch(`${base()}/v1/events/stream?from=-3`, { headers: auth() });
    expect([bad.status, ((await bad.json()) as { message: string }).message]).toEqual([400, expect.stringContaining("from")]);
  });

  test("it counts in the token's stream limit", async () => {
    const open = await Promise.all(Array.from({ length: MAX_STREAMS_PER_TOKEN }, () => fetch(`${base()}/v1/events/stream?topic=Token`, { headers: auth() })));
    expect(open.every((r) => r.status === 200)).toBe(true);
    const over = await fetch(`${base()}/v1/events/stream?topic=Token`, { headers: auth() });
    expect([over.status, ((await over.json()) as { code: number }).code]).toEqual([429, status.RESOURCE_EXHAUSTED]);
    for (const r of open) await r.body!.cancel();
    // Released as the streams close: a new one is taken again.
    let again = 0;
    for (let deadline = Date.now() + 5_000; Date.now() < deadline && again !== 200; ) {
      const r = await fetch(`${base()}/v1/events/stream?topic=Token`, { headers: auth() });
      again = r.status;
      await r.body?.cancel();
    }
    expect(again).toBe(200);
  });
});

describe("retention", () => {
  test("resuming before the oldest retained event is refused OUT_OF_RANGE naming where to resume, over HTTP as over gRPC", async () => {
    // A log whose retention dropped events 1 to 9.
    const history = { oldestSeq: async () => 10, newestSeq: () => 20, eventsAfter: async () => [] } as unknown as EventHistory;
    const rpc = createRpc({ log: silent, authenticate: () => "admin" });
    const watch = createWatchHandler(rpc, new WatchHub(history), history);
    const ask = (from: number) => serveEventStream({ watch } as never, new Request(`http://127.0.0.1/v1/events/stream?from=${from}`));
    const gone = await ask(5);
    expect([gone.status, await gone.json()]).toEqual([400, { code: status.OUT_OF_RANGE, message: expect.stringContaining("no longer retained (the oldest is 10)"), details: [] }]);
    const kept = await ask(10);
    expect(kept.status).toBe(200);
    await kept.body!.cancel();
  });
});
