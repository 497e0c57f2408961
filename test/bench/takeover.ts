/**
 * Benchmark 10, takeover (issue 20): two control planes (dist/tessera control) on one private
 * PostgreSQL, a fleet of simulated agents given both addresses (`--control a,b`), and an apply
 * storm: several workers applying one-replica workloads through the gRPC client, each call
 * sent to whichever control plane answers as the leader, each acknowledged name recorded. The
 * leader is killed with -9 in the middle of the storm. Measured from the kill: the standby
 * leading (its "leading" line), and a new apply Running (an agent started its copy, the moment
 * the agent reports it Running). Checked once the fleet has converged: every acknowledged
 * workload is there, and no workload has more live copies than its replicas, counted both as
 * the new leader holds them and as the agents run them. The killed control plane is started
 * again on its data dir and address, standing by, so each run kills the other one.
 *
 * Next to it, how far one leader goes (placements.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { Agent } from "../../src/agent/agent.js";
import { NodeCredentials } from "../../src/agent/credentials.js";
import type { Running, StartRequest } from "../../src/agent/executor.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import type { Logger } from "../../src/shell/logger.js";
import { NO_PORTS } from "../../src/core/model/ports.js";
import { type ApplyWorkloadsRequest, ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { type Instance, InstanceState, type Workload } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, eventually, Harness, leadingServes, type Server } from "../e2e/harness.js";
import { type PostgresServer, postgresAvailable, startPostgres } from "../e2e/postgres-server.js";
import { applyRequest, pool } from "./fleet.js";
import { benchPlacements } from "./placements.js";
import { cells, type Section, stats, verdict } from "./report.js";

const SILENT: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => SILENT };
const GOAL_MS = 5_000;
const MUST_MS = 10_000;
/** The lease as shipped (`--lease-ttl`, `--lease-renew` defaults). */
const LEASE_TTL = "5s";
const LEASE_RENEW = "1s";
/** Each call's deadline: a dead leader's connection fails fast, a live one answers well within. */
const CALL_DEADLINE_MS = 3_000;
/** States of a copy that runs or is on its way to running. */
const LIVE = new Set([InstanceState.INSTANCE_STATE_PENDING, InstanceState.INSTANCE_STATE_SCHEDULED, InstanceState.INSTANCE_STATE_PROVISIONING, InstanceState.INSTANCE_STATE_RUNNING]);

/** The simulated executor, keeping which copies run (per instance id, its workload) and telling of each start. */
class LiveExecutor extends SimulatedExecutor {
  constructor(
    private readonly live: Map<string, string>,
    private readonly started: (req: StartRequest) => void,
  ) {
    super();
  }

  override async start(req: StartRequest): Promise<Running> {
    const running = await super.start(req);
    this.live.set(req.instanceId, req.workload);
    void running.exited.then(() => this.live.delete(req.instanceId));
    this.started(req);
    return running;
  }
}

interface Plane {
  server: Server;
  address: string;
  dir: string;
  client: ControlPlaneClient;
}

function isUnavailable(err: unknown): boolean {
  const code = (err as ServiceError).code;
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED;
}

/** Two control planes on one PostgreSQL database and `agents` simulated agents knowing both. */
class TakeoverCluster {
  private readonly harness = new Harness();
  private pg: PostgresServer | undefined;
  private env: Record<string, string> = {};
  private readonly agents: Agent[] = [];
  planes: Plane[] = [];
  /** Every live copy on every agent: instance id → workload. */
  readonly live = new Map<string, string>();
  private readonly waiting = new Map<string, () => void>();

  static async start(agents: number): Promise<TakeoverCluster> {
    const c = new TakeoverCluster();
    try {
      await c.boot(agents);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private async startPlane(dir: string, listen = "127.0.0.1:0"): Promise<{ server: Server; address: string }> {
    const server = this.harness.start(["control", "--listen", listen, "--data-dir", dir, "--metrics-listen", "", "--lease-ttl", LEASE_TTL, "--lease-renew", LEASE_RENEW], this.env);
    const line = await server.waitForLog((l) => l.msg === "control plane listening", 20_000);
    return { server, address: String(line.address) };
  }

  private async boot(agents: number): Promise<void> {
    this.pg = await startPostgres();
    this.env = { TESSERA_STORE: this.pg.url, TESSERA_CA_SECRET: "takeover benchmark CA secret", TESSERA_LOG: "info" };
    const dirA = join(this.harness.dir, "control");
    const dirB = join(this.harness.dir, "control-b");
    const a = await this.startPlane(dirA);
    // Serving, not only leading: its tokens, read below, are written by then.
    await a.server.waitForLog(leadingServes, 20_000);
    const b = await this.startPlane(dirB);
    const { creds, options } = adminChannel(dirA);
    this.planes = [
      { ...a, dir: dirA, client: new ControlPlaneClient(a.address, creds, options) },
      { ...b, dir: dirB, client: new ControlPlaneClient(b.address, creds, options) },
    ];
    const control = `${a.address},${b.address}`;
    const caPem = readFileSync(join(dirA, "pki", "ca.pem"), "utf8");
    const joinToken = readFileSync(join(dirA, "join-token"), "utf8").trim();
    await pool(50, agents, async (i) => {
      const node = `sim-${String(i).padStart(5, "0")}`;
      const agent = new Agent({
        control,
        node,
        executor: new LiveExecutor(this.live, (req) => {
          const w = this.waiting.get(req.workload);
          if (w) w();
        }),
        version: "bench",
        ports: NO_PORTS,
        hostVolumes: [],
        log: SILENT,
        labels: {},
        capacity: { cpuMillis: 64_000, memoryMb: 262_144 },
        credentials: new NodeCredentials(join(this.harness.dir, "agents", node), node, control, { caPem, joinToken }),
      });
      this.agents.push(agent);
      await agent.start();
    });
    await eventually(`${agents} agents connected to the leader`, () => (this.connected(this.planes[0]!) >= agents ? true : undefined), 120_000, 50);
  }

  /** Distinct nodes whose hello this control plane took. */
  connected(p: Plane): number {
    return new Set(p.server.logs.filter((l) => l.msg === "agent connected").map((l) => l.node)).size;
  }

  /** Resolves, with the time, when an agent started a copy of `workload`. Call before applying it. */
  untilStarted(workload: string): Promise<number> {
    return new Promise((resolve) =>
      this.waiting.set(workload, () => {
        this.waiting.delete(workload);
        resolve(performance.now());
      }),
    );
  }

  /** Calls whichever control plane answers as the leader: `first` tried first, the other on UNAVAILABLE. */
  async onLeader<T>(first: number, call: (c: ControlPlaneClient, deadline: Date) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const i of [first, 1 - first]) {
      try {
        return await call(this.planes[i]!.client, new Date(Date.now() + CALL_DEADLINE_MS));
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        last = err;
      }
    }
    throw last;
  }

  apply(first: number, req: ApplyWorkloadsRequest): Promise<void> {
    return this.onLeader(first, (c, deadline) => new Promise((resolve, reject) => c.applyWorkloads(req, new Metadata(), { deadline }, (err) => (err ? reject(err) : resolve()))));
  }

  async workloads(leader: number): Promise<Workload[]> {
    const out: Workload[] = [];
    let pageToken = "";
    do {
      const r = await this.onLeader(leader, (c, deadline) => new Promise<{ workloads: Workload[]; nextPageToken: string }>((resolve, reject) => c.listWorkloads({ pageSize: 1000, pageToken }, new Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)))));
      out.push(...r.workloads);
      pageToken = r.nextPageToken;
    } while (pageToken);
    return out;
  }

  async instances(leader: number): Promise<Instance[]> {
    const out: Instance[] = [];
    let pageToken = "";
    do {
      const r = await this.onLeader(leader, (c, deadline) => new Promise<{ instances: Instance[]; nextPageToken: string }>((resolve, reject) => c.listInstances({ workload: "", pageSize: 1000, pageToken }, new Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)))));
      out.push(...r.instances);
      pageToken = r.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** kill -9 of control plane `i`; resolves once it is gone, with the time of the kill. */
  async kill(i: number): Promise<number> {
    const t0 = performance.now();
    this.planes[i]!.server.proc.kill("SIGKILL");
    await this.planes[i]!.server.proc.exited;
    return t0;
  }

  /** Control plane `i` again, on its data dir and address (standing by: the other leads). */
  async restart(i: number): Promise<void> {
    const p = this.planes[i]!;
    const { server } = await this.startPlane(p.dir, p.address);
    p.server = server;
  }

  async stop(): Promise<void> {
    for (const p of this.planes) p.client.close();
    for (const a of this.agents) a.close();
    await this.harness.stop();
    this.pg?.remove();
  }
}

export interface TakeoverRun {
  /** From the kill until the standby logged "leading". */
  leadingMs: number;
  /** From the kill until a workload applied after it had a copy Running. */
  applyRunningMs: number;
  /** Applies of the storm acknowledged (before, during and after the kill) and not. */
  acked: number;
  refused: number;
  /** Acknowledged workloads the new leader does not have (goal: 0). */
  missing: number;
  /** Workloads with more live copies than replicas, as the new leader holds them / as the agents run them (goal: 0). */
  overReplicated: number;
  overReplicatedOnAgents: number;
}

/**
 * `runs` takeovers on one cluster of `agents` agents: `workers` apply `batch` one-replica
 * workloads per call; the leader is killed `beforeKillMs` into each storm.
 */
export async function runTakeover(agents: number, workers: number, batch: number, beforeKillMs: number, runs: number): Promise<TakeoverRun[]> {
  const c = await TakeoverCluster.start(agents);
  try {
    const out: TakeoverRun[] = [];
    let leader = 0;
    for (let r = 0; r < runs; r++) {
      const standby = 1 - leader;
      const acked: string[] = [];
      let refused = 0;
      let storming = true;
      const storm = Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          for (let i = 0; storming; i++) {
            const names = Array.from({ length: batch }, (_, k) => `s${r}-${w}-${i}-${k}`);
            try {
              await c.apply(leader, applyRequest(names));
              acked.push(...names);
            } catch (err) {
              if (!isUnavailable(err)) throw err;
              refused++;
              // A refused client backs off before its next apply (the load's shape, not a wait for a signal).
              await Bun.sleep(50);
            }
          }
        }),
      );
      // The scenario: the leader dies this far into the storm.
      await Bun.sleep(beforeKillMs);
      const killedAt = await c.kill(leader);
      const leading = c.planes[standby]!.server.waitForLog((l) => l.msg === "leading", 30_000).then(() => performance.now() - killedAt);
      const name = `after-${r}`;
      const started = c.untilStarted(name);
      // As a client would: applied again until the standby leads and takes it.
      await eventually("the new leader takes an apply", async () => {
        await c.apply(standby, applyRequest([name]));
        return true;
      }, 30_000, 100);
      const applyRunningMs = (await started) - killedAt;
      const leadingMs = await leading;
      storming = false;
      await storm;
      // Converged: every workload the new leader holds has its copy Running on an agent.
      let held: Workload[] = [];
      await eventually(
        "every workload Running after the takeover",
        async () => {
          held = await c.workloads(standby);
          const running = new Set((await c.instances(standby)).filter((i) => i.observedState === InstanceState.INSTANCE_STATE_RUNNING).map((i) => i.workload));
          return held.every((w) => running.has(w.name)) && c.live.size >= held.length ? true : undefined;
        },
        120_000,
        200,
      );
      const names = new Set(held.map((w) => w.name));
      const replicas = new Map(held.map((w) => [w.name, w.spec?.replicas ?? 0]));
      const over = (counts: Map<string, number>) => [...counts].filter(([w, n]) => n > (replicas.get(w) ?? 0)).length;
      const count = (ws: Iterable<string>) => {
        const m = new Map<string, number>();
        for (const w of ws) m.set(w, (m.get(w) ?? 0) + 1);
        return m;
      };
      const instances = await c.instances(standby);
      out.push({
        leadingMs,
        applyRunningMs,
        acked: acked.length,
        refused,
        missing: acked.filter((n) => !names.has(n)).length,
        overReplicated: over(count(instances.filter((i) => LIVE.has(i.observedState)).map((i) => i.workload))),
        overReplicatedOnAgents: over(count(c.live.values())),
      });
      // The killed one comes back standing by; the next run kills the new leader.
      await c.restart(leader);
      leader = standby;
    }
    return out;
  } finally {
    await c.stop();
  }
}

const AGENTS = 50;
const WORKERS = 4;
const BATCH = 5;
const BEFORE_KILL_MS = 1_500;
/** Each takeover costs a lease TTL and a convergence: at most this many. */
const MAX_RUNS = 5;

export async function benchTakeover(runs: number): Promise<Section> {
  if (!postgresAvailable()) throw new Error("the takeover benchmark needs PostgreSQL 15 (apt-get install postgresql)");
  const n = Math.min(runs, MAX_RUNS);
  const all = await runTakeover(AGENTS, WORKERS, BATCH, BEFORE_KILL_MS, n);
  all.forEach((r, i) => console.log(`takeover ${i + 1}/${n}:`, r));
  const places = await benchPlacements(n);
  const leading = stats(all.map((r) => r.leadingMs));
  const applied = stats(all.map((r) => r.applyRunningMs));
  const acked = all.reduce((s, r) => s + r.acked, 0);
  const missing = all.reduce((s, r) => s + r.missing, 0);
  const over = all.reduce((s, r) => s + r.overReplicated + r.overReplicatedOnAgents, 0);
  return {
    name: "takeover",
    order: 10,
    results: { agents: AGENTS, workers: WORKERS, batch: BATCH, beforeKillMs: BEFORE_KILL_MS, leaseTtl: LEASE_TTL, leaseRenew: LEASE_RENEW, goalMs: GOAL_MS, mustMs: MUST_MS, leadingMs: leading, applyRunningMs: applied, acked, missing, overReplicated: over, runs: all, placements: places.results },
    markdown: `## 10. Takeover: kill -9 of the leader during an apply storm, and how far one leader goes

Two control planes (\`dist/tessera control\`) on one private PostgreSQL 15, the lease as shipped
(TTL ${LEASE_TTL}, renewed every ${LEASE_RENEW}); ${AGENTS} simulated agents given both addresses. ${WORKERS} workers
apply ${BATCH} one-replica workloads per call, each call to whichever control plane answers as the
leader; ${BEFORE_KILL_MS} ms into the storm the leader is killed with SIGKILL. Measured from the kill,
${n} takeovers (each run kills the other control plane; the killed one comes back standing by).
The killed leader's database session ends with its process, and with it the lock its epoch
holds: a standby takes the lease at its next attempt (every ${LEASE_RENEW}) without waiting out the TTL,
which bounds only a leader that froze or lost its host.

| measure | median | min | max | goal |
|---|---|---|---|---|
| kill → the standby leading | ${cells(leading, "ms")} | |
| kill → a new apply Running | ${cells(applied, "ms")} | ≤ ${GOAL_MS} ms ${verdict(applied.median <= GOAL_MS)} (must ≤ ${MUST_MS} ms ${verdict(applied.max <= MUST_MS)}) |

Acknowledged applies: **${acked}**, missing afterwards: **${missing}**; workloads with more live copies
than replicas (as the new leader holds them, and as the agents run them): **${over}** (goal 0 ${verdict(missing === 0 && over === 0)}).

${places.markdown}`,
  };
}
