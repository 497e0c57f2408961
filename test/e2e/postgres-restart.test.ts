/**
 * PostgreSQL restarted under load (issue 20, faults), through dist/tessera: two control planes
 * on PostgreSQL (a leader and a standby following it) and a process agent running a workload,
 * while a stream of applies runs against the first. The database stopped like a crash
 * (`pg_ctl -m immediate`): reads still answer from memory on both, a change is refused with
 * UNAVAILABLE naming the database. Started again on the same port and data, without touching
 * the control planes: within a deadline an apply converges, every apply that was acknowledged
 * is there on both, and the running copies were not restarted (same ids, same processes).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, isAlive, leadingServes, recordedInstancePids, requireBinary, type Server } from "./harness.js";
import { type PostgresServer, postgresSuite } from "./postgres-server.js";

setDefaultTimeout(120_000);

const REPLICAS = 2;
const TTL_MS = 5_000;
/** From the database back to an apply Running: a lease taken again (at most a TTL), a load, agents adopted. */
const RECOVERY_MS = TTL_MS + 15_000;

const pg = postgresSuite("PostgreSQL restarted under load, end to end");
const h = new Harness();
const agentDir = join(h.dir, "agent");
let server: PostgresServer | undefined;
let control: Server;
let address = "";
/** The second control plane, a standby following the first. */
let standbyAddress = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
const ctlAt = (at: string, ...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: at });

function writeWorkload(name: string, replicas: number): string {
  const file = `${name}.json`;
  writeFileSync(join(h.dir, file), JSON.stringify({ name, spec: { command: "/bin/sleep", args: ["3600"], replicas } }));
  return file;
}

async function instances(workload: string): Promise<Array<{ id: string; observedState: string }>> {
  const out = await ctl("get", "instances", workload, "-o", "json");
  if (out.code !== 0) throw new Error(out.stderr);
  return (JSON.parse(out.stdout || "{}") as { instances?: Array<{ id: string; observedState: string }> }).instances ?? [];
}

async function running(workload: string, replicas: number, timeoutMs = 30_000): Promise<string[]> {
  return eventually(
    `${replicas} copies of ${workload} Running`,
    async () => {
      const list = await instances(workload);
      return list.length === replicas && list.every((i) => i.observedState === "INSTANCE_STATE_RUNNING") ? list.map((i) => i.id).sort() : undefined;
    },
    timeoutMs,
  );
}

async function workloadNames(at = address): Promise<string[]> {
  const out = await ctlAt(at, "get", "workloads", "-o", "json");
  if (out.code !== 0) throw new Error(out.stderr);
  return ((JSON.parse(out.stdout || "{}") as { workloads?: Array<{ name: string }> }).workloads ?? []).map((w) => w.name);
}

beforeAll(() =>
  h.explaining(async () => {
    if (pg.skip) return;
    requireBinary();
    server = await pg.start();
    const env = { TESSERA_STORE: server.url, TESSERA_CA_SECRET: "postgres-restart test CA secret" };
    const controlArgs = (dataDir: string) => ["control", "--listen", "127.0.0.1:0", "--data-dir", join(h.dir, dataDir), "--metrics-listen", "", "--lease-ttl", `${TTL_MS}ms`, "--lease-renew", "1s"];
    control = h.start(controlArgs("control"), env);
    address = String((await control.waitForLog((l) => l.msg === "control plane listening", 20_000)).address);
    // Serving, not only leading: the agent reads the join token the term writes.
    await control.waitForLog(leadingServes, 20_000);
    const standby = h.start(controlArgs("control-b"), env);
    standbyAddress = String((await standby.waitForLog((l) => l.msg === "control plane listening", 20_000)).address);
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", agentDir]);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined), 20_000);
  }),
);
afterAll(async () => {
  await h.stop();
  server?.remove();
});

test.skipIf(pg.skip)("PostgreSQL stopped under a stream of applies: both control planes answer reads, changes are refused naming the database; started again, they recover by themselves, nothing acknowledged lost, nothing restarted", async () => {
  expect((await ctl("apply", "-f", writeWorkload("web", REPLICAS))).code).toBe(0);
  const ids = await running("web", REPLICAS);
  await eventually("the standby follows", async () => ((await workloadNames(standbyAddress)).includes("web") ? true : undefined));
  const pids = recordedInstancePids(agentDir).filter(isAlive).sort();
  expect(pids.length).toBe(REPLICAS);

  // A stream of applies, each a workload of its own: which were acknowledged, which refused.
  const acknowledged: string[] = [];
  const refused: string[] = [];
  let streaming = true;
  const stream = (async () => {
    for (let n = 0; streaming; n++) {
      const name = `s-${n}`;
      const out = await ctl("apply", "-f", writeWorkload(name, 0));
      (out.code === 0 ? acknowledged : refused).push(name);
    }
  })();
  await eventually("a few applies acknowledged", () => (acknowledged.length >= 3 ? true : undefined), 20_000);

  server!.stop();
  const stopped = Date.now();
  // Changes are refused with UNAVAILABLE, saying the database is the reason.
  const change = await eventually(
    "an apply refused",
    async () => {
      const out = await ctl("apply", "-f", writeWorkload("during", 1));
      return out.code !== 0 ? out : undefined;
    },
    15_000,
  );
  console.log(`apply while PostgreSQL is down: ${change.stderr.trim()}`);
  expect(change.stderr).toContain("UNAVAILABLE");
  expect(change.stderr.toLowerCase()).toMatch(/database|store|postgres/);
  // The standby refuses it too: it cannot even find out who leads.
  const viaStandby = await ctlAt(standbyAddress, "apply", "-f", writeWorkload("during-b", 1));
  expect(viaStandby.code).not.toBe(0);
  expect(viaStandby.stderr).toContain("UNAVAILABLE");
  expect(viaStandby.stderr.toLowerCase()).toMatch(/database|store|postgres/);
  // Reads still answer on both, from memory, for as long as the database is down (past the lease's TTL).
  await eventually(
    "reads answered past the lease's TTL with the database down",
    async () => {
      for (const at of [address, standbyAddress]) {
        expect(await workloadNames(at)).toContain("web");
        const nodes = await ctlAt(at, "get", "nodes");
        expect(nodes.code, nodes.stderr).toBe(0);
        expect(nodes.stdout).toContain("node-a");
      }
      return Date.now() > stopped + TTL_MS + 2_000 ? true : undefined;
    },
    TTL_MS + 10_000,
    250,
  );
  // What only the database holds (the roll of control planes, the event log describe and
  // history read) is refused UNAVAILABLE naming it, on both, never INTERNAL.
  const unreachable = "the database cannot be reached (PostgreSQL at postgres://";
  for (const at of [address, standbyAddress]) {
    const roll = await ctlAt(at, "get", "control-planes");
    console.log(`get control-planes while PostgreSQL is down: ${roll.stderr.trim()}`);
    expect(roll.code).not.toBe(0);
    expect(roll.stderr).toContain(`UNAVAILABLE: cannot list the control planes, which only the database knows: ${unreachable}`);
    for (const args of [["describe", "workload", "web"], ["rollout", "history", "web"]]) {
      const read = await ctlAt(at, ...args);
      expect({ args, code: read.code, unavailable: read.stderr.includes(`UNAVAILABLE: ${unreachable}`) }).toEqual({ args, code: 1, unavailable: true });
    }
  }

  server!.start();
  const started = Date.now();
  const after = await eventually(
    "an apply acknowledged after the database returned",
    async () => {
      const out = await ctl("apply", "-f", writeWorkload("after", 1));
      return out.code === 0 ? true : undefined;
    },
    RECOVERY_MS,
    100,
  );
  expect(after).toBe(true);
  const appliedMs = Date.now() - started;
  await running("after", 1, RECOVERY_MS);
  console.log(`PostgreSQL back: apply acknowledged after ${appliedMs} ms, Running after ${Date.now() - started} ms`);
  streaming = false;
  await stream;

  // Every acknowledged apply is there, on both (whichever leads now, the other follows it); the
  // copies that were running still are, untouched.
  const names = await workloadNames();
  for (const name of acknowledged) expect(names).toContain(name);
  await eventually("the other control plane caught up", async () => ((await workloadNames(standbyAddress)).sort().join() === [...names].sort().join() ? true : undefined));
  expect(acknowledged.length).toBeGreaterThanOrEqual(3);
  console.log(`applies in the stream: ${acknowledged.length} acknowledged, ${refused.length} refused`);
  expect(await running("web", REPLICAS)).toEqual(ids);
  expect(pids.every(isAlive)).toBe(true);
});
