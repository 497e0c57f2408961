/**
 * The web page's fan-out (FleetHub) fed by a real writer on SQLite: every stream gets a snapshot,
 * then the commits' changes, those of one flush window merged into one message, the same bytes
 * for all streams; the snapshot and the changes fold into the fleet as the view holds it; a
 * stream that stops taking frames is dropped and the others go on.
 */
import { afterAll, expect, test } from "bun:test";
import { eventually } from "../e2e/harness.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FleetHub } from "../../src/control/writer/fleet-hub.js";
import type { SseStream } from "../../src/control/http/sse.js";
import type { StoredEvent } from "../../src/control/store/rows.js";
import { SqliteStore } from "../../src/control/store/sqlite/store.js";
import { Writer } from "../../src/control/writer/writer.js";
import { applyChange, type FleetChange, type FleetSnapshot, fleetOf, fleetSnapshot } from "../../src/core/views/fleet-view.js";
import type { Logger } from "../../src/shell/logger.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { spec } from "../core/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-fleet-hub-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
const decoder = new TextDecoder();

/** A stream that records what it is sent; it takes `room` frames after its snapshot, then refuses (as sse.ts does past its bound). */
function recorder(room = Infinity) {
  const frames: Uint8Array[] = [];
  let snapshot: FleetSnapshot | undefined;
  let offered = 0;
  const stream: SseStream = {
    send(event, data) {
      expect(event).toBe("snapshot");
      snapshot = data as FleetSnapshot;
      return true;
    },
    sendFrame(frame) {
      offered++;
      if (frames.length >= room) return false;
      frames.push(frame);
      return true;
    },
    close() {},
  };
  /** The changes, decoded from the frames as the page reads them. */
  const changes = () =>
    frames.map((f) => {
      const [event, data] = decoder.decode(f).split("\n");
      expect(event).toBe("event: change");
      return JSON.parse(data!.slice("data: ".length)) as FleetChange;
    });
  return { stream, frames, changes, snapshot: () => snapshot!, offered: () => offered };
}

async function start(name: string) {
  const store = new SqliteStore(join(dir, name));
  const commits: StoredEvent[][] = [];
  let hub: FleetHub | undefined;
  const writer = await Writer.open({
    store,
    policy: DEFAULT_POLICY,
    tickMs: 60_000,
    log: silent,
    dispatch: () => {},
    committed: (events) => {
      commits.push(events);
      hub?.publish(events);
    },
  });
  hub = new FleetHub(writer.view, () => store.history.newestSeq());
  writer.start();
  const apply = (w: string, replicas = 2) => writer.submit({ type: "ApplyWorkload", name: w, labels: {}, spec: spec({ replicas }) });
  const stop = async () => {
    await writer.stop();
    hub!.close();
    await store.close();
  };
  return { hub, writer, store, commits, apply, stop };
}

/** Waits for the flush that sends the newest commit's change to `r`. */
const flushed = (cp: Awaited<ReturnType<typeof start>>, r: ReturnType<typeof recorder>) =>
  eventually("the flush", () => (r.frames.length > 0 && r.changes().at(-1)!.seq === cp.commits.at(-1)!.at(-1)!.seq ? true : undefined), 5_000, 5);

test("every stream gets a snapshot, then the commits' changes merged per flush, the same bytes for all; they fold into what the view holds", async () => {
  const cp = await start("fan-out");
  await cp.apply("before");
  const a = recorder();
  const b = recorder();
  cp.hub.follow(a.stream);
  cp.hub.follow(b.stream);
  const seen = cp.commits.length;
  expect(a.snapshot().seq).toBe(cp.store.history.newestSeq());
  expect(a.snapshot().copies.map((c) => c.workload)).toEqual(["before", "before"]);
  // Each submit is answered once its turn committed: one commit each, and their passes.
  for (const w of ["web", "db", "cache"]) await cp.apply(w, 3);
  await cp.writer.submit({ type: "DeleteWorkload", name: "before" });

  const after = cp.commits.slice(seen);
  expect(after.length).toBeGreaterThanOrEqual(4);
  await flushed(cp, a);
  // No more messages than commits (each window's commits are one), the same bytes on every stream.
  expect(a.frames.length).toBeLessThanOrEqual(after.length);
  a.frames.forEach((f, i) => expect(b.frames[i]).toBe(f));
  // Every copy a commit names is in the changes sent.
  const named = new Set(after.flatMap((events) => events.flatMap((e) => (e.instance ? [e.instance] : []))));
  const sent = new Set(a.changes().flatMap((c) => [...c.copies.map((x) => x.id), ...c.goneCopies]));
  expect([...named].filter((id) => !sent.has(id))).toEqual([]);

  const page = fleetOf(a.snapshot());
  for (const c of a.changes()) applyChange(page, c);
  const now = fleetOf(fleetSnapshot(cp.writer.view, cp.store.history.newestSeq()));
  expect(page).toEqual(now);
  expect(["cache", "db", "web"].every((w) => page.workloads.has(w))).toBe(true);
  // Gone, or still going when the pass that removes it has not run yet (the writer paces passes).
  expect(page.workloads.get("before")?.deleting ?? true).toBe(true);
  await cp.stop();
});

test("a stream that stops taking frames is dropped; the others keep getting every change", async () => {
  const cp = await start("slow");
  const slow = recorder(1);
  const fast = recorder();
  cp.hub.follow(slow.stream);
  cp.hub.follow(fast.stream);
  // One flush after each apply: four messages.
  for (const w of ["a", "b", "c", "d"]) {
    await cp.apply(w);
    await flushed(cp, fast);
  }
  expect(fast.frames.length).toBeGreaterThanOrEqual(4);
  expect(slow.frames).toHaveLength(1);
  // Refused once (its second frame), never offered one again.
  expect(slow.offered()).toBe(2);
  await cp.stop();
});

test("a stream that ends is not sent to again", async () => {
  const cp = await start("ended");
  const s = recorder();
  const end = cp.hub.follow(s.stream);
  await cp.apply("a");
  await flushed(cp, s);
  const had = s.frames.length;
  expect(had).toBeGreaterThan(0);
  end();
  await cp.apply("b");
  const other = recorder();
  cp.hub.follow(other.stream);
  await cp.apply("c");
  await flushed(cp, other);
  expect(s.frames).toHaveLength(had);
  await cp.stop();
});

test("a page opened after commits nobody watched, then copies leaving their nodes: what it folds is what the view holds, the nodes' use included", async () => {
  const cp = await start("unwatched");
  for (const node of ["n1", "n2"]) {
    await cp.writer.submit({ type: "AgentConnected", node, session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 4_000, memoryMb: 4_096 }, instances: [] });
  }
  await cp.apply("web", 4);
  await cp.apply("db", 2);
  const copies = (w: string) => [...cp.writer.view.instances.values()].filter((i) => i.workload === w);
  await eventually("copies placed on the nodes", () => (copies("web").length + copies("db").length === 6 && [...copies("web"), ...copies("db")].every((i) => i.node !== null) ? true : undefined), 5_000, 5);
  await cp.writer.submit({ type: "DeleteWorkload", name: "web" });
  await eventually("web's copies told to stop", () => (copies("web").every((i) => i.desired === "stop") ? true : undefined), 5_000, 5);
  // Watched from here on: the very next commit moves copies off n1 and n2.
  const page = recorder();
  cp.hub.follow(page.stream);
  expect(page.snapshot().nodes.map((n) => n.allocated.cpuMillis).reduce((a, b) => a + b)).toBeGreaterThan(0);
  await Promise.all(copies("web").map((i) => cp.writer.submit({ type: "ReportInstance", node: i.node!, instanceId: i.id, generation: i.generation, state: "stopped", reason: "", exitCode: 0, stderrTail: "" })));
  await eventually("web's copies gone", () => (copies("web").length === 0 ? true : undefined), 5_000, 5);
  await flushed(cp, page);
  const folded = fleetOf(page.snapshot());
  for (const c of page.changes()) applyChange(folded, c);
  expect(folded).toEqual(fleetOf(fleetSnapshot(cp.writer.view, cp.store.history.newestSeq())));
  await cp.stop();
});
