/**
 * The agent: holds one AgentGateway.Connect stream to the control plane, runs the instances
 * it is told to with an executor, and reports every transition. This file puts the parts
 * together and answers the commands that come down the stream; each part has its own file:
 * certificate-renewal.ts (its identity), control-stream.ts (the stream, hello, reconnecting),
 * outbox.ts (batching and the backlog), instance-supervisor.ts (the copies and their checks),
 * cluster-endpoints.ts (the endpoints the control plane sends), dns-server.ts (DNS answers
 * from them), exec-sessions.ts
 * (commands run in copies for `tessera ctl exec`).
 * Shell, like all of src/agent.
 */
import type { Logger } from "../shell/logger.js";
import { helloPorts, type NodePorts } from "../core/model/ports.js";
import type { HostVolume } from "../core/model/volumes.js";
import type { ControlMessage, StreamLogs } from "../gen/tessera/v1/agent_gateway.js";
import type { NodeLimits, Resources } from "../gen/tessera/v1/types.js";
import { type DataDirLock, lockDataDir } from "../shell/data-dir-lock.js";
import { CertificateRenewal } from "./certificate-renewal.js";
import { ControlStream } from "./control-stream.js";
import type { NodeCredentials } from "./credentials.js";
import { ClusterEndpoints } from "./cluster-endpoints.js";
import { DnsServer, parseDnsListen } from "./dns-server.js";
import { ExecSessions } from "./exec-sessions.js";
import { type Executor, NoOutputRecorded } from "./executor.js";
import { InstanceSupervisor } from "./instance-supervisor.js";
import { DisconnectDeadline } from "./disconnect-deadline.js";
import { Outbox } from "./outbox.js";
import { UsageSampler } from "./usage-sampler.js";
import { SecretFiles } from "./secret-files.js";

export interface AgentOptions {
  /** host:port of the control plane, or several comma-separated (the leader among them is followed). */
  control: string;
  node: string;
  executor: Executor;
  /** Whether its process copies are held to their resources (the hello says); unset without a process executor. */
  limits?: NodeLimits;
  version: string;
  labels: Record<string, string>;
  capacity: Resources;
  /** Where its copies are reached, its dynamic port range and the ports the host keeps. */
  ports: NodePorts;
  /** Directories copies may use (--host-volume): advertised in the hello, and what their volumes resolve to. */
  hostVolumes: HostVolume[];
  log: Logger;
  heartbeatMs?: number;
  /** The node's certificate (mTLS); unset for a plaintext control plane (--insecure). */
  credentials?: NodeCredentials;
  /** First reconnect delay; doubles up to maxReconnectMs, with jitter. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  /** host:port to answer DNS on (port 0: a free one); unset: no DNS. */
  dnsListen?: string;
  /**
   * The data dir its executors keep their copies' records and output in: locked for the
   * agent's life (DATA_DIR/agent.lock), so that a second agent there is refused rather than
   * adopting this one's copies. Unset when nothing real runs (the simulated executor).
   */
  dataDir?: string;
  /** How often its copies' usage is sampled and sent (default USAGE_SAMPLE_MS). */
  usageSampleMs?: number;
}

/** How often executors do their upkeep (log rotation). */
const HOUSEKEEPING_MS = 10_000;

export class Agent {
  private readonly stream: ControlStream;
  private readonly outbox: Outbox;
  private readonly instances: InstanceSupervisor;
  private readonly renewal: CertificateRenewal | undefined;
  /** Open log streams by command id. */
  private readonly logStreams = new Map<number, AbortController>();
  private readonly execs: ExecSessions;
  private readonly usage: UsageSampler;
  private readonly deadline: DisconnectDeadline;
  /** The term the last start or stop came from. */
  private lastTerm = { epoch: -1, leader: "" };
  private housekeeping: ReturnType<typeof setInterval> | undefined;
  private dns: DnsServer | undefined;
  private readonly endpoints: ClusterEndpoints;
  private lock: DataDirLock | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.stream = new ControlStream(opts, {
      hello: () => ({ node: opts.node, executors: opts.executor.kinds, version: opts.version, labels: opts.labels, capacity: opts.capacity, ...helloPorts(opts.ports), hostVolumes: opts.hostVolumes, limits: opts.limits, instances: this.instances.holdings() }),
      synced: (stream) => this.outbox.sendKept(stream),
      command: (msg) => void this.handle(msg),
      // Whoever asked for logs or ran a command on a stream is gone with it.
      lost: () => this.endStreamed(),
    });
    this.outbox = new Outbox(this.stream, opts.log);
    this.endpoints = new ClusterEndpoints(opts.log);
    const secretFiles = opts.dataDir === undefined ? undefined : new SecretFiles(opts.dataDir);
    this.instances = new InstanceSupervisor(opts.executor, opts.log, (msg) => this.outbox.report(msg), opts.node, opts.hostVolumes, secretFiles, this.endpoints.of);
    // Volatile: sent when a stream is up, never kept for the next one.
    this.usage = new UsageSampler(opts.executor, (copies) => this.outbox.sendNow({ payload: { $case: "usage", value: { copies } } }), opts.usageSampleMs);
    this.execs = new ExecSessions(opts.executor, opts.log, (out) => this.outbox.sendNow({ payload: { $case: "execOutput", value: out } }));
    this.deadline = new DisconnectDeadline({ lastHeardAt: () => this.stream.lastHeardAt(), stop: (copy) => void this.instances.stop(copy).catch(() => {}) }, opts.log);
    if (opts.credentials) this.renewal = new CertificateRenewal(opts.credentials, opts.log, (id) => this.stream.useIdentity(id));
  }

  /** Locks its data dir, adopts what a previous run left behind, then connects. */
  async start(): Promise<void> {
    // First of all: a second agent on this data dir must not touch its copies or its identity.
    if (this.opts.dataDir !== undefined) this.lock = lockDataDir(this.opts.dataDir, "agent", Date.now());
    if (this.renewal) await this.renewal.start(this.opts, () => this.stream.isClosed);
    await this.instances.adopt();
    if (this.opts.dnsListen !== undefined) {
      const at = parseDnsListen(this.opts.dnsListen);
      // Running copies is the agent's job and DNS an aid to it: a second agent on a host, whose
      // default port is taken, runs without DNS rather than not at all.
      this.dns = await DnsServer.start(at, this.opts.log, this.endpoints.of).catch((err: Error) => {
        this.opts.log.error("not answering DNS", { error: err.message });
        return undefined;
      });
    }
    this.housekeeping = setInterval(() => this.opts.executor.housekeeping(), HOUSEKEEPING_MS);
    this.usage.start();
    this.deadline.start();
    this.stream.connect();
  }

  /** Closes the stream. Instances keep running: a restarted agent reports them again. */
  close(): void {
    // What this turn reported goes out before the stream is cancelled, as it did unbatched.
    this.outbox.flush();
    clearInterval(this.housekeeping);
    this.usage.stop();
    this.deadline.stop();
    this.renewal?.stop();
    this.endStreamed();
    this.dns?.close();
    this.stream.close();
    this.lock?.release();
  }


  /** Stops every instance it holds (used by `tessera dev` on exit). */
  stopAll(gracePeriodMs: number): Promise<void> {
    return this.instances.stopAll(gracePeriodMs);
  }

  private endStreamed(): void {
    for (const a of this.logStreams.values()) a.abort();
    this.execs.killAll();
  }

  private async handle(msg: ControlMessage): Promise<void> {
    // Log streams answer with LogChunks instead of an ack.
    if (msg.command?.$case === "logs") return this.streamLogs(msg.commandId, msg.command.value);
    if (msg.command?.$case === "cancelLogs") {
      this.logStreams.get(msg.command.value.commandId)?.abort();
      return;
    }
    // An exec answers with ExecOutputs; its input is not acknowledged.
    if (msg.command?.$case === "exec") return this.execs.start(msg.commandId, msg.command.value);
    if (msg.command?.$case === "execInput") return this.execs.input(msg.command.value);
    if (msg.command?.$case === "endpoints") {
      this.endpoints.apply(msg.command.value);
      // Template configs naming endpoints that changed are written again, under their on_change.
      this.instances.rerender();
      return;
    }
    let error = "";
    try {
      this.noteLeader(msg);
      switch (msg.command?.$case) {
        case "start":
          this.deadline.track(msg.command.value);
          await this.instances.start(msg.command.value);
          break;
        case "stop":
          this.deadline.forget(msg.command.value.instanceId);
          await this.instances.stop(msg.command.value);
          break;
        case "refreshSecrets":
          await this.instances.refresh(msg.command.value);
          break;
        default:
          error = "unknown command";
      }
    } catch (err) {
      error = (err as Error).message;
    }
    this.outbox.ack({ payload: { $case: "ack", value: { commandId: msg.commandId, error } } });
  }

  /**
   * Logs each change of the term commands come from (epoch, leader): the record an audit reads
   * to check that no two leaders' commands reached this agent in one epoch.
   */
  private noteLeader(msg: ControlMessage): void {
    const term = { epoch: msg.epoch ?? 0, leader: msg.leader ?? "" };
    if (term.epoch === this.lastTerm.epoch && term.leader === this.lastTerm.leader) return;
    this.lastTerm = term;
    this.opts.log.info("commands from a leader", term);
  }

  private async streamLogs(commandId: number, req: StreamLogs): Promise<void> {
    const abort = new AbortController();
    this.logStreams.set(commandId, abort);
    const chunk = (lines: string[], eof: boolean, error = "") =>
      this.outbox.sendNow({ payload: { $case: "logChunk", value: { commandId, lines, eof, error } } });
    try {
      await this.opts.executor.readLogs({ instanceId: req.instanceId, tail: req.tail, follow: req.follow, signal: abort.signal, emit: (lines) => chunk(lines, false) });
      chunk([], true);
    } catch (err) {
      chunk([], true, err instanceof NoOutputRecorded ? err.onNode(this.opts.node) : (err as Error).message);
    } finally {
      this.logStreams.delete(commandId);
    }
  }
}
