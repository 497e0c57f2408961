/**
 * Benchmark 9, the mosaic (issue 19): N simulated agents and W one-replica workloads, all
 * Running (a BenchCluster: dist/tessera control and real agents on the simulated executor), and
 * the page in Debian's Chromium driven by playwright-core.
 *
 * Load: from navigation (the page's timeOrigin; `/?token=` signs in, as an operator's link does)
 * to the page's drawn mark (src/web/mosaic.ts) holding every copy. Floor: reading the same
 * snapshot off /api/events in the benchmark's process (what computing and sending it costs):
 * the rest is the browser's and the page's.
 *
 * Burst: B changes written to the page's stream at once, each one Running copy turned Failed
 * with its node and workload, sent as the control plane's FleetHub sends them: the changes of
 * one flush window (FLUSH_MS) merged into one message. They come from a proxy in
 * front of the control plane that serves the stream itself (a snapshot read from the control
 * plane, then the burst) and passes everything else through: a real fleet does not fail on cue.
 * Measured: the renderer's main-thread time (Chromium's Performance.getMetrics TaskDuration, over
 * CDP) from just before the burst until the drawn mark says the last change is drawn, and the
 * longest task in it (a long-task observer). Floor: JSON.parse of the same B messages in the page.
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { FLUSH_MS } from "../../src/control/writer/fleet-hub.js";
import { type FleetChange, type FleetSnapshot, mergeChanges } from "../../src/core/views/fleet-view.js";
import { DRAWN_MARK } from "../../src/web/mosaic.js";
import { BenchCluster, pool } from "./fleet.js";
import { cells, round, type Section, type Stats, stats, verdict } from "./report.js";

export const CHROMIUM = "/usr/bin/chromium";
/** Workloads per ApplyWorkloads call, and calls in flight (as the scale benchmark applies them). */
const BATCH = 500;
const IN_FLIGHT = 4;
const DRAWN_WITHIN_MS = 60_000;

export interface WebRun {
  /** Navigation → every copy drawn. */
  loadMs: number;
  /** The snapshot read off /api/events by the benchmark's process. */
  snapshotMs: number;
  /** Main-thread time to take in and draw the burst. */
  burstMs: number;
  longestTaskMs: number;
  /** JSON.parse of the burst's messages in the page. */
  parseMs: number;
  /** The workloads table (every workload a row): sorted by name the other way, laid out. */
  sortMs: number;
  /** The same table filtered to the workloads whose text holds "w-1", laid out. */
  filterMs: number;
}

/**
 * The workloads table reached from the overview by its link (the history API, no reload), every
 * workload a row (the first ones drawn); then one sort and one filter, each timed in the page from the event to the
 * layout that follows it (the table draws synchronously in its handler).
 */
async function tableTimes(page: Page, workloads: number): Promise<{ sortMs: number; filterMs: number }> {
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Workloads" }).click();
  const table = page.getByRole("table", { name: "workloads" });
  await page.locator(`#pages table[data-rows="${workloads}"]`).waitFor({ timeout: DRAWN_WITHIN_MS });
  const sortMs = await page.evaluate(() => {
    const t = performance.now();
    document.querySelector<HTMLButtonElement>("#pages th button")!.click();
    void document.body.offsetHeight;
    return performance.now() - t;
  });
  const filterMs = await page.evaluate(() => {
    const input = document.querySelector<HTMLInputElement>('#pages input[type="search"]')!;
    const t = performance.now();
    input.value = "w-1";
    input.dispatchEvent(new Event("input"));
    void document.body.offsetHeight;
    return performance.now() - t;
  });
  if (Number(await table.getAttribute("data-rows")) >= workloads) throw new Error("the workloads table did not filter");
  return { sortMs, filterMs };
}

/** The first `snapshot` event of /api/events, as its data text (signed in as the page is: a session, from the page's origin). */
async function readSnapshot(web: string, token: string): Promise<string> {
  const origin = new URL(web).origin;
  const signIn = await fetch(new URL("api/session", web), { method: "POST", headers: { origin, "content-type": "application/json" }, body: JSON.stringify({ token }) });
  if (!signIn.ok) throw new Error(`/api/session answered ${signIn.status}`);
  const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
  const res = await fetch(new URL("api/events", web), { headers: { cookie } });
  if (!res.ok || !res.body) throw new Error(`/api/events answered ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const head = "event: snapshot\ndata: ";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("/api/events ended before its snapshot");
    text += value;
    const at = text.indexOf(head);
    const end = at < 0 ? -1 : text.indexOf("\n\n", at);
    if (end >= 0) {
      await reader.cancel();
      return text.slice(at + head.length, end);
    }
  }
}

/** The page's drawn mark once it holds `copies` copies as of event `seq` or later: its time since navigation. */
async function untilDrawn(page: Page, seq: number, copies: number): Promise<number> {
  const at = await page.waitForFunction(
    ({ mark, seq, copies }) => {
      const m = performance.getEntriesByName(mark)[0] as PerformanceMark | undefined;
      const d = m?.detail as { seq: number; copies: number } | undefined;
      return d !== undefined && d.copies === copies && d.seq >= seq ? m!.startTime : false;
    },
    { mark: DRAWN_MARK, seq, copies },
    { polling: 20, timeout: DRAWN_WITHIN_MS },
  );
  return (await at.jsonValue()) as number;
}

/** A page of the mosaic at `web`, signed in with the link an operator is given. */
async function openPage(browser: Browser, web: string, token: string, init?: () => void): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (init) await page.addInitScript(init);
  await page.goto(`${web}?token=${encodeURIComponent(token)}`);
  return { context, page };
}

/**
 * B changes, each one Running copy of the snapshot turned Failed, as the SSE messages' data: all
 * within one of the hub's flush windows, so merged into one message as the hub merges them.
 */
function burstOf(snapshot: FleetSnapshot, b: number): string[] {
  const nodes = new Map(snapshot.nodes.map((n) => [n.name, n]));
  const workloads = new Map(snapshot.workloads.map((w) => [w.name, w]));
  const running = snapshot.copies.filter((c) => c.state === "running").slice(0, b);
  if (running.length < b) throw new Error(`a burst of ${b} needs as many Running copies; the snapshot has ${running.length}`);
  const changes = running.map((c, i): FleetChange => {
    const w = workloads.get(c.workload)!;
    return {
      seq: snapshot.seq + i + 1,
      nodes: [nodes.get(c.node!)!],
      copies: [{ ...c, state: "failed", ready: false, reason: "exited with code 1" }],
      workloads: [{ ...w, ready: w.ready - 1 }],
      goneNodes: [],
      goneCopies: [],
      goneWorkloads: [],
    };
  });
  return [JSON.stringify(changes.reduce(mergeChanges))];
}

/** Serves /api/events itself (the snapshot, then what `burst` writes); passes every other request to `target`. */
function startProxy(target: string, snapshot: string) {
  const encoder = new TextEncoder();
  let stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch: async (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/api/events") {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode(`retry: 1000\n\nevent: snapshot\ndata: ${snapshot}\n\n`));
            stream = controller;
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-store" } });
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      // The page's origin is the proxy's; the control plane takes a change only from its own.
      if (headers.has("origin")) headers.set("origin", new URL(target).origin);
      const res = await fetch(new URL(url.pathname + url.search, target), { method: req.method, headers, body: req.method === "GET" ? undefined : await req.arrayBuffer(), redirect: "manual" });
      const back = new Headers(res.headers);
      back.delete("content-encoding");
      back.delete("content-length");
      return new Response(res.body, { status: res.status, headers: back });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/`,
    /** Writes the messages to the open stream in one chunk, as a burst arrives. */
    burst(datas: string[]) {
      if (!stream) throw new Error("no page follows the proxy's stream");
      stream.enqueue(encoder.encode(datas.map((d) => `event: change\ndata: ${d}\n\n`).join("")));
    },
    stop: () => server.stop(true),
  };
}

export async function runWeb(agents: number, workloads: number, burst: number, runs: number): Promise<WebRun[]> {
  const c = await BenchCluster.start(agents);
  let browser: Browser | undefined;
  let proxy: ReturnType<typeof startProxy> | undefined;
  try {
    const names = Array.from({ length: workloads }, (_, i) => `w-${i}`);
    await pool(IN_FLIGHT, Math.ceil(workloads / BATCH), (b) => c.apply(...names.slice(b * BATCH, (b + 1) * BATCH)));
    await c.untilRunning(workloads);
    const { url, adminToken } = c.web;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const out: WebRun[] = [];
    for (let r = 0; r < runs; r++) {
      const s0 = performance.now();
      const text = await readSnapshot(url, adminToken);
      const snapshotMs = performance.now() - s0;
      const snapshot = JSON.parse(text) as FleetSnapshot;

      const load = await openPage(browser, url, adminToken);
      const loadMs = await untilDrawn(load.page, snapshot.seq, workloads);
      const { sortMs, filterMs } = await tableTimes(load.page, workloads);
      await load.context.close();

      proxy?.stop();
      proxy = startProxy(url, text);
      const datas = burstOf(snapshot, burst);
      const { context, page } = await openPage(browser, proxy.url, adminToken, () => {
        const w = window as unknown as { longTasks: number[] };
        w.longTasks = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) w.longTasks.push(e.duration);
        }).observe({ type: "longtask" });
      });
      await untilDrawn(page, snapshot.seq, workloads);
      const cdp = await context.newCDPSession(page);
      await cdp.send("Performance.enable");
      const busyMs = async () => (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration")!.value * 1000;
      await page.evaluate(() => void ((window as unknown as { longTasks: number[] }).longTasks.length = 0));
      const before = await busyMs();
      proxy.burst(datas);
      await untilDrawn(page, snapshot.seq + burst, workloads);
      const burstMs = (await busyMs()) - before;
      const longestTaskMs = Math.max(0, ...(await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks)));
      const parseMs = await page.evaluate((ds) => {
        const t = performance.now();
        for (const d of ds) JSON.parse(d);
        return performance.now() - t;
      }, datas);
      await context.close();
      const run = { loadMs, snapshotMs, burstMs, longestTaskMs, parseMs, sortMs, filterMs };
      console.log(`run ${r + 1}/${runs}:`, run);
      out.push(run);
    }
    return out;
  } finally {
    await browser?.close();
    proxy?.stop();
    await c.stop();
  }
}

const AGENTS = 1_000;
const WORKLOADS = 10_000;
const BURST = 1_000;
const GOAL_LOAD_MS = 1_000;
const GOAL_BURST_MS = 50;
const GOAL_TABLE_MS = 100;

export async function benchWeb(runs: number): Promise<Section> {
  const all = await runWeb(AGENTS, WORKLOADS, BURST, runs);
  const s = {
    loadMs: stats(all.map((r) => r.loadMs)),
    snapshotMs: stats(all.map((r) => r.snapshotMs)),
    burstMs: stats(all.map((r) => r.burstMs)),
    longestTaskMs: stats(all.map((r) => r.longestTaskMs)),
    parseMs: stats(all.map((r) => r.parseMs)),
    sortMs: stats(all.map((r) => r.sortMs)),
    filterMs: stats(all.map((r) => r.filterMs)),
  };
  const ratio = (x: number, floor: Stats) => round(x / floor.median, 1);
  return {
    name: "web",
    order: 9,
    results: { agents: AGENTS, workloads: WORKLOADS, burst: BURST, goalLoadMs: GOAL_LOAD_MS, goalBurstMs: GOAL_BURST_MS, goalTableMs: GOAL_TABLE_MS, ...s, runs: all },
    markdown: `## 9. The mosaic: ${AGENTS.toLocaleString("en")} simulated nodes, ${WORKLOADS.toLocaleString("en")} copies, in Chromium

The fleet of benchmark 3 (every copy Running) and the web page in Debian's Chromium (headless,
driven by playwright-core, on the same two cores as the control plane and the agents). Load: from
navigation to \`/?token=…\` until the page's drawn mark holds every copy (sign-in, the bundled
page, the /api/events snapshot, drawing). Its floor: reading the same snapshot off /api/events in
the benchmark's process. Burst: ${BURST.toLocaleString("en")} changes written to the page's stream at once (each one
Running copy turned Failed, with its node and workload, sent as the control plane's FleetHub
sends them — the changes of one ${FLUSH_MS} ms flush window merged into one message — from a proxy
that serves the stream and passes the rest to the control plane); measured as the
renderer's main-thread time (Chromium's TaskDuration over CDP) until the last change is drawn,
and its longest task. Its floor: JSON.parse of the same message in the page. The workloads table
(/workloads, reached by its link, ${WORKLOADS.toLocaleString("en")} rows): a sort and a filter, each from its event to the layout
after it, in the page.

| measure | median | min | max | × floor | goal |
|---|---|---|---|---|---|
| navigation → complete mosaic | ${cells(s.loadMs, "ms")} | ${ratio(s.loadMs.median, s.snapshotMs)} | ≤ ${GOAL_LOAD_MS} ms ${verdict(s.loadMs.median <= GOAL_LOAD_MS)} |
| floor: the snapshot read off /api/events | ${cells(s.snapshotMs, "ms")} | 1 | |
| main thread, ${BURST.toLocaleString("en")} changes applied and drawn | ${cells(s.burstMs, "ms")} | ${ratio(s.burstMs.median, s.parseMs)} | ≤ ${GOAL_BURST_MS} ms ${verdict(s.burstMs.median <= GOAL_BURST_MS)} |
| longest task in it | ${cells(s.longestTaskMs, "ms")} | | |
| floor: JSON.parse of the burst's message | ${cells(s.parseMs, "ms")} | 1 | |
| workloads table: sort by name | ${cells(s.sortMs, "ms")} | | ≤ ${GOAL_TABLE_MS} ms ${verdict(s.sortMs.median <= GOAL_TABLE_MS)} |
| workloads table: filter | ${cells(s.filterMs, "ms")} | | ≤ ${GOAL_TABLE_MS} ms ${verdict(s.filterMs.median <= GOAL_TABLE_MS)} |
`,
  };
}
