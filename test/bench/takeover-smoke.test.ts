/**
 * A small run of the takeover benchmark (10), so it cannot rot: two control planes on one
 * PostgreSQL, the leader killed with -9 during an apply storm. No timing is asserted (speed
 * goals live in `make bench`), only what must hold: the standby leads, a new apply runs, every
 * acknowledged apply is there and no workload runs more copies than its replicas.
 */
import { beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { requireBinary } from "../e2e/harness.js";
import { postgresSuite } from "../e2e/postgres-server.js";
import { runPlacements } from "./placements.js";
import { runTakeover } from "./takeover.js";

setDefaultTimeout(120_000);
const pg = postgresSuite("the takeover benchmark's smoke test");
beforeAll(() => {
  if (pg.skip) return;
  pg.require();
  requireBinary();
});

test.skipIf(pg.skip)("takeover, smoke size: 5 agents, kill -9 of the leader mid-storm loses no acknowledged apply and places no copy twice", async () => {
  const [run] = await runTakeover(5, 2, 2, 300, 1);
  expect(run!.acked).toBeGreaterThan(0);
  expect(run!.missing).toBe(0);
  expect(run!.overReplicated).toBe(0);
  expect(run!.overReplicatedOnAgents).toBe(0);
  expect(run!.applyRunningMs).toBeGreaterThan(0);
  expect(run!.leadingMs).toBeGreaterThan(0);
});

test.skipIf(pg.skip)("placements, smoke size: the same load on SQLite and on PostgreSQL, both measured, with their CPU by process", async () => {
  const r = await runPlacements(5, 50);
  expect(r.sqlitePerS).toBeGreaterThan(0);
  expect(r.postgresPerS).toBeGreaterThan(0);
  // SQLite's writes are the control plane's own: no database server spends anything.
  expect(r.sqliteCpu.database).toBe(0);
  for (const cpu of [r.sqliteCpu, r.postgresCpu]) for (const us of Object.values(cpu)) expect(Number.isFinite(us) && us >= 0).toBe(true);
});
