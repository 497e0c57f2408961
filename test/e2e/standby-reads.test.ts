/**
 * A standby answers reads as its leader would (issue 25), through dist/tessera on a private
 * PostgreSQL: started after the agents connected, so that it starts from a snapshot of the
 * store rather than hearing their hellos, it shows every kind of workload (a system workload
 * wants a copy per connected Ready node) and every node as the leader does. The nodes'
 * heartbeats reach the leader only: the standby leaves a node's last heartbeat unknown
 * rather than showing the silence it cannot hear, and its `plan` takes nodes' health as the
 * leader recorded it rather than judging a silence it never heard.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, leadingServes, requireBinary } from "./harness.js";
import { type PostgresServer, postgresSuite } from "./postgres-server.js";

setDefaultTimeout(90_000);

const pg = postgresSuite("a standby's reads on PostgreSQL, end to end");
const h = new Harness();
let server: PostgresServer | undefined;
let env: Record<string, string> = {};
let leader = "";
let standby = "";
/** When both nodes were Ready: their rows' last heartbeat is no later. */
let nodesReadyAt = 0;

const ctl = (address: string, ...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

async function startControl(dataDir: string): Promise<string> {
  const s = h.start(["control", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--metrics-listen", "127.0.0.1:0", "--lease-renew", "1s"], env);
  return String((await s.waitForLog((l) => l.msg === "control plane listening", 20_000)).address);
}

async function json<T>(address: string, ...args: string[]): Promise<T> {
  const out = await ctl(address, ...args, "-o", "json");
  if (out.code !== 0) throw new Error(`ctl ${args.join(" ")} on ${address}: ${out.stderr}`);
  return JSON.parse(out.stdout) as T;
}

type Listed = { workloads: Array<{ name: string; status: Record<string, unknown> }> };
type Nodes = { nodes: Array<Record<string, unknown> & { name: string; lastHeartbeat?: string }> };

beforeAll(() =>
  h.explaining(async () => {
    if (pg.skip) return;
    requireBinary();
    server = await pg.start();
    env = { TESSERA_STORE: server.url, TESSERA_CA_SECRET: "standby-reads test CA secret" };
    const first = h.start(["control", "--listen", "127.0.0.1:0", "--data-dir", join(h.dir, "control"), "--metrics-listen", "127.0.0.1:0"], env);
    leader = String((await first.waitForLog((l) => l.msg === "control plane listening", 20_000)).address);
    await first.waitForLog(leadingServes, 20_000);
    for (const name of ["node-a", "node-b"]) h.start(["agent", "--control", leader, "--name", name, "--data-dir", join(h.dir, name)]);
    await eventually("two nodes Ready", async () => ((await json<Nodes>(leader, "get", "nodes")).nodes.filter((n) => n.health === "NODE_HEALTH_READY").length === 2 ? true : undefined), 20_000);
    nodesReadyAt = Date.now();
  }),
);
afterAll(async () => {
  await h.stop();
  server?.remove();
});

test.skipIf(pg.skip)("a standby started after the agents connected shows every kind of workload and every node as the leader does", async () => {
  const manifests = {
    hs: { kind: "system", command: "/bin/sleep", args: ["3600"] },
    web: { command: "/bin/sleep", args: ["3600"], replicas: 2 },
    job: { kind: "batch", command: "/bin/true", completions: 2, parallelism: 1 },
  };
  for (const [name, spec] of Object.entries(manifests)) {
    writeFileSync(join(h.dir, `${name}.json`), JSON.stringify({ name, spec }));
    expect((await ctl(leader, "apply", "-f", `${name}.json`)).code).toBe(0);
  }
  const settled = (l: Listed) => l.workloads.length === 3 && l.workloads.every((w) => w.status.phase === (w.name === "job" ? "Complete" : "Running"));
  const onLeader = await eventually("every workload settled on the leader", async () => {
    const l = await json<Listed>(leader, "get", "workloads");
    return settled(l) ? l : undefined;
  });
  expect(onLeader.workloads.find((w) => w.name === "hs")?.status).toMatchObject({ desired: 2, ready: 2, phase: "Running" });

  // Started now, the standby begins from a snapshot of the store: no hello reaches it.
  standby = await startControl(join(h.dir, "control-b"));
  const onStandby = await eventually("the standby answers", async () => {
    const out = await ctl(standby, "get", "workloads", "-o", "json");
    return out.code === 0 ? (JSON.parse(out.stdout) as Listed) : undefined;
  });
  // `available` and the rollout line are read against each one's clock: the same once settled.
  expect(onStandby).toEqual(onLeader);

  // Nodes: the same health, status and use; the last heartbeat is the leader's to know.
  const leaderNodes = await json<Nodes>(leader, "get", "nodes");
  const standbyNodes = await json<Nodes>(standby, "get", "nodes");
  expect(standbyNodes.nodes.map(({ lastHeartbeat, ...n }) => n)).toEqual(leaderNodes.nodes.map(({ lastHeartbeat, ...n }) => n));
  expect(leaderNodes.nodes.every((n) => n.lastHeartbeat !== undefined)).toBe(true);
  expect(standbyNodes.nodes.map((n) => n.lastHeartbeat)).toEqual([undefined, undefined]);
  const table = await ctl(standby, "get", "nodes");
  expect(table.stdout).toMatch(/^node-a\s+Ready\s.*<unknown>/m);
  expect((await ctl(standby, "describe", "node", "node-a")).stdout).toContain("Last seen:   <unknown> (heartbeats reach the leader only)");
});

test.skipIf(pg.skip)("plan on the standby decides as on the leader: nodes' health as the leader recorded it, not judged from heartbeats the standby never hears", async () => {
  // The scenario: the last heartbeat the standby's rows carry is older than the Offline threshold (5 s).
  await eventually("the nodes' recorded heartbeats older than the Offline threshold", () => (Date.now() > nodesReadyAt + 6_000 ? true : undefined), 15_000, 250);
  writeFileSync(join(h.dir, "more.json"), JSON.stringify({ name: "more", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2 } }));
  const plans = await Promise.all([leader, standby].map((at) => ctl(at, "plan", "-f", "more.json", "-o", "json")));
  // Each line is the tick (its time) or an action: the actions must be the same.
  const actions = (out: string) => out.trim().split("\n").slice(1).map((l) => JSON.parse(l) as Record<string, unknown>).map(({ at, ...a }) => a);
  expect(plans.map((p) => p.code)).toEqual([1, 1]);
  expect(actions(plans[1]!.stdout)).toEqual(actions(plans[0]!.stdout));
  expect(plans[1]!.stdout).not.toContain("offline");
});
