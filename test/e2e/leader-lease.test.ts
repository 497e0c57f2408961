/**
 * Several control planes on one PostgreSQL database (issue 20), through dist/tessera: one
 * leads, the other stands by, following its commits: it answers reads from that state (an
 * apply on the leader shows on the standby) and refuses changes with UNAVAILABLE, naming the
 * leader. The leader killed with -9: its database session ends with it, so the standby leads
 * from memory at its next attempt, long before the lease's TTL (a minute here) runs out, and
 * the agent's copies are adopted (same ids, same processes); an apply afterwards converges. A
 * leader frozen with SIGSTOP (its session lives on) past its lease, then resumed: the standby
 * waited out the TTL, the resumed one steps down, and the event log shows no two control
 * planes committing in one epoch and no epoch's commits after a later one's.
 *
 * The second control plane starts with an empty data dir: the cluster CA is in the database
 * (its key sealed with the CA secret both are given), so it issues its own server certificate
 * from the same CA, and the agent enrolled with the first trusts it after the failover.
 *
 * The agent and ctl are given both addresses (`--control a,b`) and find the leader by
 * themselves: the agent moves to the new leader after the kill, or away from a frozen one
 * (keepalive, connect timeout), with no help, and ctl follows a standby's "the leader is at" hint.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ServiceError, status } from "@grpc/grpc-js";
import { ControlPlaneClient, type WatchResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { adminChannel, eventually, Harness, isAlive, leadingServes, recordedInstancePids, requireBinary, type Server, transitionsOf } from "./harness.js";
import { type PostgresServer, postgresSuite } from "./postgres-server.js";

setDefaultTimeout(120_000);

const REPLICAS = 2;
const TTL_MS = 5_000;
/** A takeover may take the TTL, a renewal interval to notice, and a start (load, bind). */
const TAKEOVER_MS = TTL_MS + 3_000;
/** The first leader's lease: what a kill -9 would make the standby wait, were the leader's session not watched. */
const LONG_TTL_MS = 60_000;

const pg = postgresSuite("several control planes on PostgreSQL, end to end");
const h = new Harness();
const agentDir = join(h.dir, "agent");
/** The first control plane's data dir is the harness's: ctl and the agent read its CA and tokens. The second's starts empty. */
const dirA = join(h.dir, "control");
const dirB = join(h.dir, "control-b");
let server: PostgresServer | undefined;
let env: Record<string, string> = {};

const ctl = (address: string, ...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** Starts a control plane on the shared database; resolves once it listens, gRPC and HTTP (leading or not). */
async function startControl(dataDir: string, listen = "127.0.0.1:0", ttlMs = TTL_MS): Promise<{ server: Server; address: string; http: string }> {
  const s = h.start(["control", "--listen", listen, "--data-dir", dataDir, "--metrics-listen", "127.0.0.1:0", "--lease-ttl", `${ttlMs}ms`, "--lease-renew", "1s"], env);
  const line = await s.waitForLog((l) => l.msg === "control plane listening", 20_000);
  const http = await s.waitForLog((l) => l.msg === "http listening", 20_000);
  return { server: s, address: String(line.address), http: String(http.address) };
}

type Member = { address: string; role: string; epoch?: string; behind?: string };

async function controlPlanes(address: string): Promise<Member[]> {
  const out = await ctl(address, "get", "control-planes", "-o", "json");
  if (out.code !== 0) throw new Error(out.stderr);
  return (JSON.parse(out.stdout) as { controlPlanes: Member[] }).controlPlanes;
}

async function running(address: string, workload: string, replicas: number): Promise<{ ids: string[] }> {
  return eventually(
    `${replicas} copies of ${workload} Running`,
    async () => {
      const out = await ctl(address, "get", "instances", workload, "-o", "json");
      const list = (JSON.parse(out.stdout || "{}") as { instances?: Array<{ id: string; observedState: string }> }).instances ?? [];
      return list.length === replicas && list.every((i) => i.observedState === "INSTANCE_STATE_RUNNING") ? { ids: list.map((i) => i.id).sort() } : undefined;
    },
    30_000,
  );
}

/** Every committed event's leader and epoch, in log order. */
async function audit(): Promise<Array<{ seq: number; leader: string; epoch: number }>> {
  const sql = new SQL(server!.url);
  try {
    const rows: Array<{ seq: string; leader: string; epoch: string }> = await sql`SELECT seq, leader, epoch FROM events ORDER BY seq`;
    return rows.map((r) => ({ seq: Number(r.seq), leader: r.leader, epoch: Number(r.epoch) }));
  } finally {
    await sql.close();
  }
}

/** No two control planes committed in one epoch, and epochs only grow along the log. */
function expectFenced(log: Array<{ leader: string; epoch: number }>): void {
  const leaders = new Map<number, string>();
  let last = 0;
  for (const e of log) {
    expect(e.epoch).toBeGreaterThanOrEqual(last);
    last = e.epoch;
    expect({ epoch: e.epoch, leader: leaders.get(e.epoch) ?? e.leader }).toEqual({ epoch: e.epoch, leader: e.leader });
    leaders.set(e.epoch, e.leader);
  }
}

let a: { server: Server; address: string; http: string };
let b: { server: Server; address: string; http: string };

beforeAll(() =>
  h.explaining(async () => {
    if (pg.skip) return;
    requireBinary();
    server = await pg.start();
    env = { TESSERA_STORE: server.url, TESSERA_CA_SECRET: "leader-lease test CA secret" };
    a = await startControl(dirA, "127.0.0.1:0", LONG_TTL_MS);
    await a.server.waitForLog(leadingServes, 20_000);
    b = await startControl(dirB);
    // B got the cluster's CA from the database (the certificate, never the key) and its own server certificate; no tokens were rotated for it.
    expect(readFileSync(join(dirB, "pki", "ca.pem"), "utf8")).toBe(readFileSync(join(dirA, "pki", "ca.pem"), "utf8"));
    expect(readFileSync(join(dirB, "pki", "server.pem"), "utf8")).not.toBe(readFileSync(join(dirA, "pki", "server.pem"), "utf8"));
    expect(["pki/ca.key", "admin-token", "join-token"].filter((f) => existsSync(join(dirB, f)))).toEqual([]);
    h.start(["agent", "--control", `${a.address},${b.address}`, "--name", "node-a", "--data-dir", agentDir]);
    await eventually("node-a Ready", async () => ((await ctl(a.address, "get", "nodes")).stdout.includes("Ready") ? true : undefined), 20_000);
  }),
);
afterAll(async () => {
  // A frozen process would not hear SIGTERM.
  for (const s of [a?.server, b?.server]) s?.proc.kill("SIGCONT");
  await h.stop();
  server?.remove();
});

test.skipIf(pg.skip)("one leads, the other follows it, answering reads and naming it for changes; kill -9 of the leader: the standby leads from memory long before its lease's TTL and adopts the agent's copies; an apply converges", async () => {
  const planes = await eventually("both control planes in the roll", async () => {
    const p = await controlPlanes(a.address);
    return p.length === 2 ? p : undefined;
  });
  expect(planes.map((p) => [p.address, p.role])).toEqual([
    [a.address, "CONTROL_PLANE_ROLE_LEADER"],
    [b.address, "CONTROL_PLANE_ROLE_STANDBY"],
  ]);
  const epochA = Number(planes[0]!.epoch);

  // A Watch on the standby hears the leader's commits (it follows them), until it starts leading.
  const { creds, options } = adminChannel(dirA);
  const watcher = new ControlPlaneClient(b.address, creds, options);
  const watched: string[] = [];
  let watchEnded: ServiceError | undefined;
  const stream = watcher.watch({ afterSequence: 0, workload: "web" });
  stream.on("data", (r: WatchResponse) => watched.push(r.event?.type ?? ""));
  stream.on("error", (e: ServiceError) => (watchEnded = e));

  // ctl given only the standby: its apply is refused naming the leader, which ctl follows.
  writeFileSync(join(h.dir, "web.json"), JSON.stringify({ name: "web", spec: { command: "/bin/sleep", args: ["3600"], replicas: REPLICAS } }));
  const applied = Date.now();
  expect((await ctl(b.address, "apply", "-f", "web.json")).code).toBe(0);
  const before = await running(a.address, "web", REPLICAS);
  // The standby answers reads from the state it follows: the same copies, Running there too.
  expect(await running(b.address, "web", REPLICAS)).toEqual(before);
  await eventually("the standby's Watch sees the apply and the copies running", () => (watched.includes("WorkloadApplied") && watched.includes("InstanceTransitioned") ? true : undefined), 5_000);
  // Streams are opened on the leader the roll names, the standby listed first: logs are the leader's (the agents' streams).
  const logs = await ctl(`${b.address},${a.address}`, "logs", "web");
  expect({ code: logs.code, stderr: logs.stderr }).toEqual({ code: 0, stderr: "" });
  const refusedLogs = await ctl(b.address, "logs", "web");
  expect(refusedLogs.stderr).toContain(`not the leader; the leader is at ${a.address}`);
  const workloads = await ctl(b.address, "get", "workloads");
  expect(workloads.stdout).toContain("web");
  console.log(`apply through the standby to both showing ${REPLICAS} copies Running: ${Date.now() - applied} ms`);
  // Each shows how far behind the leader's commits it is: the leader 0, the standby caught up.
  const roll = await ctl(b.address, "get", "control-planes");
  expect(roll.stdout.split("\n")[0]).toContain("BEHIND");
  await eventually("the standby caught up", async () => ((await controlPlanes(b.address)).every((p) => Number(p.behind ?? 0) === 0) ? true : undefined));
  // The standby's HTTP listener is its process's: /metrics says its role and how far it has
  // applied; /readyz, the page and its API answer 503 naming the leader.
  const standbyMetrics = await (await fetch(`http://${b.http}/metrics`)).text();
  expect(standbyMetrics).toContain('tessera_role{role="standby"} 1');
  expect(standbyMetrics).toMatch(/^tessera_applied_seq [1-9]\d*$/m);
  expect(standbyMetrics).toMatch(/^tessera_instances\{state="running"\} 2$/m);
  const notLeader = `not the leader; the leader is at ${a.address} (epoch ${epochA})`;
  const readyz = await fetch(`http://${b.http}/readyz`);
  expect([readyz.status, await readyz.text()]).toEqual([503, `not ready: ${notLeader}\n`]);
  for (const path of ["/", "/api/session"]) {
    const res = await fetch(`http://${b.http}${path}`);
    expect([path, res.status, await res.json()]).toEqual([path, 503, { error: `not ready: ${notLeader}` }]);
  }
  const pids = recordedInstancePids(agentDir).filter(isAlive).sort();
  expect(pids.length).toBe(REPLICAS);

  const killed = Date.now();
  a.server.proc.kill("SIGKILL");
  await a.server.proc.exited;
  // The standby answers reads from memory, the leader gone, whether or not it leads yet.
  expect(await running(b.address, "web", REPLICAS)).toEqual(before);
  // A minute was left on A's lease: B leads because A's session ended with its process.
  const leading = await b.server.waitForLog((l) => l.msg === "leading", TAKEOVER_MS + 5_000);
  const takeoverMs = Date.now() - killed;
  // It starts from the state it followed, not a load of the database.
  const fromMemory = await b.server.waitForLog((l) => l.msg === "leading from memory", 5_000);
  console.log(`kill -9 to leading from memory at seq ${String(fromMemory.seq)}: ${Date.now() - killed} ms (lease taken to serving: ${String(fromMemory.ms)} ms)`);
  // The standby's Watch ended when it began leading: the client watches again, on the leader.
  const ended = await eventually("the standby's Watch ended", () => watchEnded, 5_000);
  expect({ code: ended.code, details: ended.details }).toEqual({ code: status.UNAVAILABLE, details: "this control plane leads now: watch again" });
  watcher.close();
  console.log(`takeover after kill -9: ${takeoverMs} ms (lease TTL ${LONG_TTL_MS} ms)`);
  expect(Number(leading.epoch)).toBe(epochA + 1);

  // Its HTTP listener, the same since it started, now serves the page (a token wanted) and is ready.
  expect((await fetch(`http://${b.http}/readyz`)).status).toBe(200);
  expect((await fetch(`http://${b.http}/`)).status).toBe(200);
  expect((await fetch(`http://${b.http}/api/session`)).status).toBe(401);
  expect(await (await fetch(`http://${b.http}/metrics`)).text()).toContain('tessera_role{role="leader"} 1');

  // The agent moves to the new leader by itself.
  await b.server.waitForLog((l) => l.msg === "agent connected" && l.node === "node-a", 15_000);
  const adoptedMs = Date.now() - killed;
  const nodes = await ctl(`${a.address},${b.address}`, "get", "nodes");
  expect(nodes.code).toBe(0);
  expect(nodes.stdout).toContain("node-a");
  // The same copies, the same processes: adopted, nothing restarted.
  expect(await running(b.address, "web", REPLICAS)).toEqual(before);
  expect(recordedInstancePids(agentDir).filter(isAlive).sort()).toEqual(pids);
  expect(await transitionsOf(h, b.address, "web")).not.toContain("lose");

  writeFileSync(join(h.dir, "after.json"), JSON.stringify({ name: "after", spec: { command: "/bin/sleep", args: ["3600"], replicas: 1 } }));
  expect((await ctl(b.address, "apply", "-f", "after.json")).code).toBe(0);
  await running(b.address, "after", 1);
  console.log(`kill -9 to agent adopted: ${adoptedMs} ms; to a new apply Running: ${Date.now() - killed} ms`);
  expect(await running(b.address, "web", REPLICAS)).toEqual(before);
  expect(recordedInstancePids(agentDir).filter(isAlive).sort()).toEqual(expect.arrayContaining(pids));

  // A is gone from the roll once unheard for a TTL.
  const after = await eventually("A gone from the roll", async () => {
    const roll = await controlPlanes(b.address);
    return roll.find((p) => p.address === a.address)?.role === "CONTROL_PLANE_ROLE_GONE" ? roll : undefined;
  });
  expect(after[0]).toMatchObject({ address: b.address, role: "CONTROL_PLANE_ROLE_LEADER", epoch: String(epochA + 1) });
  expectFenced(await audit());
});

test.skipIf(pg.skip)("a leader frozen past its lease does not commit when resumed: it steps down, and no two control planes commit in one epoch", async () => {
  // A again (a new process on its data dir, on its address: the one the agent knows), standing by behind B.
  a = await startControl(dirA, a.address);
  await eventually("A stands by", async () => ((await controlPlanes(b.address)).some((p) => p.address === a.address && p.role === "CONTROL_PLANE_ROLE_STANDBY") ? true : undefined));
  const epochB = Number((await controlPlanes(b.address))[0]!.epoch);

  const frozen = Date.now();
  b.server.proc.kill("SIGSTOP");
  const leading = await a.server.waitForLog((l) => l.msg === "leading", TAKEOVER_MS + 5_000);
  console.log(`takeover after SIGSTOP: ${Date.now() - frozen} ms`);
  expect(Number(leading.epoch)).toBe(epochB + 1);
  // A followed B's commits as a standby: it leads from that state.
  await a.server.waitForLog((l) => l.msg === "leading from memory", 5_000);
  await a.server.waitForLog((l) => l.msg === "agent connected" && l.node === "node-a", 15_000);
  const seqAtResume = (await audit()).at(-1)!.seq;

  b.server.proc.kill("SIGCONT");
  const steppedDown = await b.server.waitForLog((l) => l.msg === "stepping down", 10_000);
  console.log(`B after SIGCONT: stepped down (${String(steppedDown.reason)})`);
  // Whatever it tried meanwhile was refused: B committed nothing since it was resumed.
  await eventually("B stands by", async () => ((await controlPlanes(a.address)).some((p) => p.address === b.address && p.role === "CONTROL_PLANE_ROLE_STANDBY") ? true : undefined));
  const log = await audit();
  expect(log.filter((e) => e.seq > seqAtResume && e.epoch === epochB)).toEqual([]);
  expectFenced(log);
  expect((await ctl(b.address, "get", "workloads")).code).toBe(0);
  // The new leader applies and converges.
  writeFileSync(join(h.dir, "third.json"), JSON.stringify({ name: "third", spec: { command: "/bin/sleep", args: ["3600"], replicas: 1 } }));
  expect((await ctl(a.address, "apply", "-f", "third.json")).code).toBe(0);
  const third = await running(a.address, "third", 1);
  // B, deposed, became a follower of A: it answers with A's state, the new workload included.
  expect(await running(b.address, "third", 1)).toEqual(third);

  // A new node given the standby first enrolls (join token) and connects on the leader it names.
  h.start(["agent", "--control", `${b.address},${a.address}`, "--name", "node-b", "--simulated", "--data-dir", join(h.dir, "agent-b")]);
  await a.server.waitForLog((l) => l.msg === "agent connected" && l.node === "node-b", 15_000);
});
