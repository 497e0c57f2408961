/**
 * Store hygiene: under endless apply/delete churn, with maintenance as the writer runs it,
 * the event log, the database file and the WAL stay bounded; without it the log grows.
 * And a commit survives the process dying right after it (no close, no checkpoint).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/control/store/store.js";
import type { Command } from "../../src/core/decide.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile.js";
import { runTurn } from "../../src/core/turn.js";
import { spec } from "../core/fixtures.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "tessera-store-"));
  dirs.push(d);
  return d;
};
const size = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** Drives `rounds` apply → run → delete → stopped cycles of 5 workloads through the real commit path. */
function churn(store: Store, rounds: number, onRound: (round: number, now: number) => void): void {
  let now = 1_000_000;
  const state = store.load(now);
  const turn = (commands: Command[]) => {
    const r = runTurn(state, commands, now, DEFAULT_POLICY, true);
    if (r.events.length > 0) store.commit(r.events, state);
    return r;
  };
  turn([{ type: "AgentConnected", node: "n1", session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, instances: [] }]);
  for (let round = 0; round < rounds; round++) {
    now += 10;
    const names = [0, 1, 2, 3, 4].map((i) => `w${i}`);
    const placed = turn(names.map((name) => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ args: [String(round)], replicas: 2 }) })));
    const started = placed.effects.filter((e) => e.type === "StartInstance");
    turn(started.flatMap((e) => [
      { type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "provisioning", reason: "" } as Command,
      { type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "running", reason: "" } as Command,
    ]));
    const stopping = turn(names.map((name) => ({ type: "DeleteWorkload", name })));
    turn(stopping.effects.flatMap((e) => (e.type === "StopInstance" ? [{ type: "ReportInstance", node: "n1", instanceId: e.instanceId, generation: e.generation, state: "stopped", reason: "" } as Command] : [])));
    onRound(round, now);
  }
}

test("with maintenance the log, the database and the WAL stay bounded", { timeout: 30_000 }, () => {
  const dir = tempDir();
  const store = new Store(dir, { maxEvents: 2_000, batch: 5_000 });
  const db = join(dir, "tessera.db");
  let warm = 0;
  let peakEvents = 0;
  churn(store, 1_500, (round, now) => {
    if (round % 50 === 49) {
      store.maintain(now);
      const events = store.sqlite.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM events").get()!.n;
      peakEvents = Math.max(peakEvents, events);
      if (round === 299) warm = size(db);
    }
  });
  const events = store.sqlite.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM events").get()!.n;
  console.log(`after churn: ${events} events, db ${size(db)} B (warm ${warm} B), wal ${size(`${db}-wal`)} B`);
  expect(peakEvents).toBeLessThanOrEqual(2_000);
  // Freed pages are reused: past warm-up the file no longer grows with the churn.
  expect(size(db)).toBeLessThanOrEqual(warm * 1.5);
  expect(size(`${db}-wal`)).toBeLessThan(8 * 1024 * 1024);
  store.close();
});

test("without maintenance the log keeps growing (the bound above is not free)", () => {
  const store = new Store(tempDir(), { maxEvents: 2_000 });
  churn(store, 300, () => {});
  const events = store.sqlite.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM events").get()!.n;
  expect(events).toBeGreaterThan(2_000 * 5);
  store.close();
});

test("a commit survives the process dying right after it", () => {
  const dir = tempDir();
  const first = new Store(dir);
  churn(first, 3, () => {});
  // No close and no checkpoint: a second connection sees what the first committed, as a restart would.
  const second = new Store(dir);
  const counted = second.sqlite.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM events").get()!.n;
  const own = first.sqlite.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM events").get()!.n;
  expect(counted).toBe(own);
  expect(second.load(0).nextInstanceSeq).toBe(first.load(0).nextInstanceSeq);
  second.close();
  first.close();
});
