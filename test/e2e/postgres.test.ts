/**
 * The control plane on PostgreSQL (issue 20, first slice), through dist/tessera: with
 * TESSERA_STORE=postgres://… a workload applied runs on a process agent, and a kill -9 and
 * restart of the control plane adopts its copies (same ids, same processes; nothing lost,
 * stopped or replaced) with its history intact, read back from the database, not the data dir.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, isAlive, recordedInstancePids, requireBinary, type Server, transitionsOf } from "./harness.js";
import { type PostgresServer, postgresSuite } from "./postgres-server.js";

setDefaultTimeout(90_000);

const REPLICAS = 3;
/** The control plane's default Offline threshold: past it, a copy not adopted would be Lost. */
const OFFLINE_AFTER_MS = 5_000;

const pg = postgresSuite("the control plane on PostgreSQL, end to end");
const h = new Harness();
const agentDir = join(h.dir, "agent");
let server: PostgresServer | undefined;
let control: Server;
let address = "";
let env: Record<string, string> = {};
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

async function running(): Promise<{ ids: string[]; pids: number[] }> {
  return eventually(
    `${REPLICAS} copies of web Running`,
    async () => {
      const out = await ctl("get", "instances", "web", "-o", "json");
      const list = (JSON.parse(out.stdout || "{}") as { instances?: Array<{ id: string; observedState: string }> }).instances ?? [];
      const pids = recordedInstancePids(agentDir).filter(isAlive).sort();
      const ok = list.length === REPLICAS && list.every((i) => i.observedState === "INSTANCE_STATE_RUNNING") && pids.length === REPLICAS;
      return ok ? { ids: list.map((i) => i.id).sort(), pids } : undefined;
    },
    20_000,
  );
}

beforeAll(() =>
  h.explaining(async () => {
    if (pg.skip) return;
    requireBinary();
    server = await pg.start();
    env = { TESSERA_STORE: server.url, TESSERA_CA_SECRET: "postgres test CA secret" };
    ({ server: control, address } = await h.startControl("127.0.0.1:0", env));
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", agentDir]);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  await h.stop();
  server?.remove();
});

test.skipIf(pg.skip)("a workload runs; after kill -9 and a restart on the same database its copies are adopted, not restarted, and its history is intact", async () => {
  const listening = await control.waitForLog((l) => l.msg === "control plane listening");
  expect(String(listening.store)).toStartWith("postgres://postgres@127.0.0.1:");
  // The state is in PostgreSQL: no SQLite database in the data dir.
  expect(existsSync(join(h.dir, "control", "tessera.db"))).toBe(false);

  writeFileSync(join(h.dir, "web.json"), JSON.stringify({ name: "web", spec: { command: "/bin/sleep", args: ["3600"], replicas: REPLICAS } }));
  expect((await ctl("apply", "-f", "web.json")).code).toBe(0);
  const before = await running();
  const history = (await ctl("history", "web", "--limit", "0")).stdout.trimEnd();
  expect(history.split("\n").length).toBeGreaterThan(REPLICAS);

  const led = await control.waitForLog((l) => l.msg === "leading");
  control.proc.kill("SIGKILL");
  await control.proc.exited;
  control = (await h.startControl(address, env)).server;
  const restarted = Date.now();
  // The same control plane (its id is kept in the data dir): it takes its own lease again in
  // the next epoch, without waiting for the killed process's lease to expire.
  const ledAgain = await control.waitForLog((l) => l.msg === "leading");
  expect({ id: ledAgain.id, epoch: ledAgain.epoch }).toEqual({ id: led.id, epoch: Number(led.epoch) + 1 });
  await control.waitForLog((l) => l.msg === "agent connected" && l.node === "node-a", 15_000);

  // Past the moment silence would have made the node Offline: the same copies, the same processes.
  await eventually(
    "the Offline threshold passed with every copy kept",
    async () => {
      const now = await running();
      expect(now).toEqual(before);
      return Date.now() > restarted + OFFLINE_AFTER_MS + 1_000 ? true : undefined;
    },
    OFFLINE_AFTER_MS + 20_000,
    250,
  );
  const transitions = await transitionsOf(h, address, "web");
  expect(transitions).toContain("run");
  expect(transitions).not.toContain("lose");
  // What was recorded before the kill is all still there, in order, with what came after.
  const after = (await ctl("history", "web", "--limit", "0")).stdout;
  expect(after.startsWith(`${history}\n`)).toBe(true);
});
