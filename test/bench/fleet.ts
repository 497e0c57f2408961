/**
 * A benchmark cluster: a real control plane (dist/tessera control: its own process, TLS, the
 * embedded defaults) and agents in worker processes (agent-fleet.ts: the real Agent on the
 * simulated executor, nothing runs), each with its own certificate, connection and Connect
 * stream, as a fleet of separate nodes would have. Used by the scale benchmark (3), the latency
 * benchmark (2), the restart benchmark, the endpoints benchmark (8), the mosaic benchmark (9),
 * the placements of the takeover benchmark (10) and the HTTP API benchmark.
 */
import { DEFAULT_PORT_RANGE, NO_PORTS, type NodePorts } from "../../src/core/model/ports.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ClientReadableStream, status } from "@grpc/grpc-js";
import { type ApplyWorkloadsRequest, ControlPlaneClient, EndpointChange, type WatchEndpointsResponse, type WatchResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { type Port, Event as WireEvent, Workload } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, eventually, Harness, type Server } from "../e2e/harness.js";
import { AgentFleet, type FleetOptions, type Killed } from "./agent-fleet.js";
import { cpuTicks, statusMib } from "./report.js";

export { pool } from "./pool.js";

/**
 * Who waits for what, per workload: each waiter resolves, with the time (performance.now()) the
 * thing it matched was delivered (or the time it happened, when the deliverer knows it), at the
 * first one it accepts; delivered before it waited is not seen.
 */
export class Waiters<T> {
  private readonly byWorkload = new Map<string, Array<(x: T, at: number) => boolean>>();

  wait(workload: string, match: (x: T) => boolean): Promise<number> {
    return new Promise<number>((resolve) => {
      const waiting = this.byWorkload.get(workload) ?? [];
      waiting.push((x, at) => (match(x) ? (resolve(at), true) : false));
      this.byWorkload.set(workload, waiting);
    });
  }

  deliver(workload: string, x: T, at = performance.now()): void {
    const waiting = this.byWorkload.get(workload);
    if (!waiting) return;
    const left = waiting.filter((w) => !w(x, at));
    if (left.length > 0) this.byWorkload.set(workload, left);
    else this.byWorkload.delete(workload);
  }
}

/** `name` from Prometheus text, summed over the series whose labels contain `labels`. */
export function metric(text: string, name: string, labels = ""): number {
  let total = 0;
  for (const line of text.split("\n")) if ((line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  return total;
}

/** The ApplyWorkloads request for one-replica workloads named `names`: what BenchCluster.apply sends. */
export function applyRequest(names: string[], ports: Port[] = []): ApplyWorkloadsRequest {
  return { workloads: names.map((name) => Workload.fromPartial({ name, spec: { command: "/bin/sleep", args: ["3600"], replicas: 1, resources: { cpuMillis: 100, memoryMb: 64 }, ports } })) };
}

/** What agents advertise when a benchmark asks for ports: loopback and the default dynamic range. */
export const LOOPBACK_PORTS: NodePorts = { address: "127.0.0.1", range: DEFAULT_PORT_RANGE, reserved: [] };

/** The name of the benchmark fleet's `i`-th node. */
export const simNode = (i: number) => `sim-${String(i).padStart(5, "0")}`;

export class BenchCluster {
  private readonly harness = new Harness();
  private readonly fleet = new AgentFleet((workload, at) => {
    this.started++;
    this.onStart();
    this.starts.deliver(workload, at, at);
  });
  private control!: Server;
  private address = "";
  private env: Record<string, string> = {};
  private metricsAddress = "";
  client!: ControlPlaneClient;
  /** Copies the agents started so far. */
  started = 0;
  private onStart: () => void = () => {};
  /** Per workload, who waits for which of its events (see untilEvent). */
  private readonly events = new Waiters<WireEvent>();
  private watching: ClientReadableStream<WatchResponse> | undefined;
  /** Per workload, who waits for which change of its endpoints (see untilEndpoint). */
  private readonly endpointChanges = new Waiters<WatchEndpointsResponse>();
  private watchingEndpoints: ClientReadableStream<WatchEndpointsResponse> | undefined;
  /** Per workload, who waits for an agent to start one of its copies (see untilCopyStarted). */
  private readonly starts = new Waiters<number>();

  /**
   * Starts the control plane and `agents` agents; resolves when every node is Ready. The agents
   * advertise `ports` (by default none: no copy asking for a port fits). `env` goes to the
   * control plane (TESSERA_STORE: PostgreSQL instead of the embedded SQLite).
   */
  static async start(agents: number, ports: NodePorts = NO_PORTS, env: Record<string, string> = {}, fleet: FleetOptions = {}): Promise<BenchCluster> {
    const c = new BenchCluster();
    try {
      await c.boot(agents, ports, env, fleet);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private async boot(agents: number, ports: NodePorts, env: Record<string, string>, fleet: FleetOptions): Promise<void> {
    this.env = { TESSERA_LOG: "info", ...env };
    const { server, address, metricsAddress } = await this.harness.startControl("127.0.0.1:0", this.env);
    this.control = server;
    this.address = address;
    this.metricsAddress = metricsAddress;
    const controlDir = join(this.harness.dir, "control");
    const caPem = readFileSync(join(controlDir, "pki", "ca.pem"), "utf8");
    const joinToken = readFileSync(join(controlDir, "join-token"), "utf8").trim();
    const nodes = Array.from({ length: agents }, (_, i) => simNode(i));
    await this.fleet.start(nodes, { control: address, caPem, joinToken, dir: join(this.harness.dir, "agents"), ports }, fleet);
    // Ten thousand hellos take their time on two cores: the deadline grows with the fleet.
    await eventually("every node Ready", async () => (metric(await this.scrape(), "tessera_nodes", 'health="ready"') === agents ? true : undefined), Math.max(120_000, agents * 20), 100);
    const { creds, options } = adminChannel(controlDir);
    this.client = new ControlPlaneClient(address, creds, options);
  }

  /**
   * kill -9 of the control plane and a new one on the same address and data dir, at once.
   * Resolves when it listens, with the new process (its logs tell when agents reconnect).
   */
  async restartControl(): Promise<Server> {
    this.control.proc.kill("SIGKILL");
    await this.control.proc.exited;
    const { server, metricsAddress } = await this.harness.startControl(this.address, this.env);
    this.control = server;
    this.metricsAddress = metricsAddress;
    return server;
  }

  /** The control plane's /metrics. */
  async scrape(): Promise<string> {
    return (await fetch(`http://${this.metricsAddress}/metrics`)).text();
  }

  /** CPU used so far (user + system, clock ticks) by the benchmark's side (this process and the agents' workers) and by the control plane. */
  cpuTicks(): { bench: number; control: number } {
    return { bench: cpuTicks(process.pid) + this.fleet.cpuTicks(), control: cpuTicks(this.control.proc.pid) };
  }

  /** The control plane's peak RSS so far, MiB. */
  controlPeakRssMb(): number {
    return statusMib(this.control.proc.pid, "VmHWM");
  }

  /** Applies one-replica workloads named `names` in one ApplyWorkloads call (what `ctl apply -f DIR` sends). */
  apply(...names: string[]): Promise<void> {
    return this.applyRequest(applyRequest(names));
  }

  /** Applies one one-replica workload asking for one dynamic tcp port, `http`. */
  applyWithPort(name: string): Promise<void> {
    return this.applyRequest(applyRequest([name], [{ name: "http", protocol: "tcp" }]));
  }

  private applyRequest(req: ApplyWorkloadsRequest): Promise<void> {
    return new Promise((resolve, reject) => this.client.applyWorkloads(req, (err) => (err ? reject(err) : resolve())));
  }

  /** Deletes workload `name` and resolves once the control plane has removed it (its copies stopped). */
  async remove(name: string): Promise<void> {
    const removed = this.untilEvent(name, (e) => e.type === "WorkloadRemoved");
    await new Promise<void>((resolve, reject) => this.client.deleteWorkload({ name }, (err) => (err ? reject(err) : resolve())));
    await removed;
  }

  /** Kills the agent of `node` as kill -9 would, as the control plane sees it: when, and how many copies it held. */
  killAgent(node: string): Promise<Killed> {
    return this.fleet.kill(node);
  }

  /**
   * Resolves once the control plane counts `n` instances Running. Waits (without polling the
   * control plane) until the agents have started `starts` copies in all, then polls /metrics until the
   * control plane has committed their reports: every 5 ms per 10,000 copies, so the polls cost
   * the control plane (which counts its instances to answer) the same share of the time at every
   * size while the clock's resolution stays a fixed fraction of it.
   */
  async untilRunning(n: number, starts = n): Promise<void> {
    if (this.started < starts) {
      const enough = new Promise<void>((resolve) => {
        this.onStart = () => {
          if (this.started >= starts) resolve();
        };
      });
      // A fleet that cannot get its copies started (a control plane out of descriptors) fails the run instead of hanging it.
      const limitMs = Math.max(120_000, starts * 3);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the agents started ${this.started} of ${starts} copies within ${limitMs} ms`)), limitMs)));
      try {
        await Promise.race([enough, this.fleet.died, late]);
      } finally {
        clearTimeout(timer);
        this.onStart = () => {};
      }
    }
    await eventually(`${n} instances Running`, async () => (metric(await this.scrape(), "tessera_instances", 'state="running"') >= n ? true : undefined), Math.max(60_000, n * 2), Math.max(5, n / 2_000));
  }

  /**
   * Resolves once the control plane's log has stopped growing, its newest sequence number the
   * same over `quietMs` (polled every 250 ms). Resolves with how long after the call the log
   * last grew, and by how many events it grew meanwhile.
   */
  async untilSettled(quietMs: number): Promise<{ ms: number; events: number }> {
    const t0 = performance.now();
    let first: number | undefined;
    let seq = -1;
    let since = t0;
    await eventually(
      `the event log to stop growing for ${quietMs} ms`,
      async () => {
        const now = metric(await this.scrape(), "tessera_applied_seq");
        first ??= now;
        if (now !== seq) [seq, since] = [now, performance.now()];
        return performance.now() - since >= quietMs ? true : undefined;
      },
      120_000,
      250,
    );
    return { ms: since - t0, events: seq - first! };
  }

  /** Resolves when an instance of `workload` is reported Running. */
  async untilWorkloadRunning(workload: string): Promise<void> {
    await this.untilEvent(workload, (e) => e.type === "InstanceTransitioned" && (JSON.parse(e.detail) as { event: { type: string } }).event.type === "run");
  }

  /**
   * Resolves, with the time it did, when an agent has started a copy of `workload`: the moment
   * the agent reports it Running (and, with no readiness checks, Ready), as its worker stamped it
   * on the clock this process shares, not when the worker's message arrived.
   */
  untilCopyStarted(workload: string): Promise<number> {
    return this.starts.wait(workload, () => true);
  }

  /**
   * Resolves, with the time it arrived, when the endpoints watch tells of a Ready endpoint of
   * `workload` (added, or changed to Ready). Call watchEndpoints first.
   */
  untilEndpointReady(workload: string): Promise<number> {
    if (!this.watchingEndpoints) throw new Error("untilEndpointReady before watchEndpoints");
    return this.endpointChanges.wait(workload, (r) => (r.change === EndpointChange.ENDPOINT_CHANGE_ADDED || r.change === EndpointChange.ENDPOINT_CHANGE_CHANGED) && r.endpoint?.ready === true);
  }

  /**
   * Resolves at the first event of `workload` that `match` accepts, committed after this call,
   * with the time it arrived. One Watch serves every waiter for the cluster's life: a Watch
   * opened and cancelled per sample (1,000 a run) sometimes tripped the HTTP/2 server's guard
   * against floods of resets, which ends the connection with RESOURCE_EXHAUSTED.
   */
  private untilEvent(workload: string, match: (e: WireEvent) => boolean): Promise<number> {
    this.watching ??= this.watchAll();
    return this.events.wait(workload, match);
  }

  /** The Watch from now on: each event goes to its workload's waiters. */
  private watchAll(): ClientReadableStream<WatchResponse> {
    const call = this.client.watch({ afterSequence: 0, workload: "" });
    call.on("data", (r: WatchResponse) => {
      if (r.event) this.events.deliver(r.event.workload, r.event);
    });
    call.on("error", (err: { code?: number }) => {
      if (err.code !== status.CANCELLED) throw new Error(`the benchmark's Watch failed: ${String(err)}`);
    });
    return call;
  }

  /**
   * Opens the one WatchEndpoints stream of the cluster's life (one per sample would meet the
   * same reset-flood guard as Watch, above); resolves once its snapshot is complete, so what
   * arrives after is news, not the snapshot.
   */
  watchEndpoints(): Promise<void> {
    if (this.watchingEndpoints) return Promise.resolve();
    const call = this.client.watchEndpoints({ workload: "" });
    this.watchingEndpoints = call;
    return new Promise<void>((resolve, reject) => {
      call.on("data", (r: WatchEndpointsResponse) => {
        if (r.change === EndpointChange.ENDPOINT_CHANGE_SYNCED) resolve();
        else if (r.endpoint) this.endpointChanges.deliver(r.endpoint.workload, r);
      });
      call.on("error", (err: { code?: number }) => {
        if (err.code === status.CANCELLED) return;
        reject(err);
        throw new Error(`the benchmark's WatchEndpoints failed: ${String(err)}`);
      });
    });
  }

  /** The web page (plain HTTP: the listener is on loopback) and the admin token that signs in to it. */
  get web(): { url: string; adminToken: string } {
    return { url: `http://${this.metricsAddress}/`, adminToken: readFileSync(join(this.controlDir, "admin-token"), "utf8").trim() };
  }

  /** The control plane's data dir (its CA and server certificate, for the floor's server). */
  get controlDir(): string {
    return join(this.harness.dir, "control");
  }

  async stop(): Promise<void> {
    this.watching?.cancel();
    this.watchingEndpoints?.cancel();
    this.client?.close();
    await this.fleet.stop();
    await this.harness.stop();
  }
}
