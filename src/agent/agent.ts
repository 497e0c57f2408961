/**
 * The agent: holds one AgentGateway.Connect stream to the control plane, runs the instances
 * it is told to with an executor, and reports every transition. Its instances move through
 * the same state machine as the control plane's records (src/core/instance-machine.ts).
 */
import { type ClientDuplexStream, credentials, Metadata, status } from "@grpc/grpc-js";
import { type InstanceEvent, type InstanceState, type ReportedState, transition } from "../core/instance-machine.js";
import type { Logger } from "../core/logger.js";
import {
  AgentGatewayClient,
  type AgentMessage,
  type ControlMessage,
  type StartInstance,
  type StopInstance,
  type StreamLogs,
} from "../gen/tessera/v1/agent_gateway.js";
import { INSTANCE_STATE_TO_WIRE } from "../core/wire-enums.js";
import type { Resources } from "../gen/tessera/v1/types.js";
import { channelCredentials, type Identity, type NodeCredentials, renewAt } from "./credentials.js";
import { CHANNEL_OPTIONS } from "../shell/control-channel.js";
import { resolveSpec } from "../core/spec.js";
import type { Check, WorkloadSpec } from "../gen/tessera/v1/types.js";
import { isLiveness, runChecks } from "./checks.js";
import { describeExit, type Executor, type Running, type StartRequest } from "./executor.js";

export interface AgentOptions {
  /** host:port of the control plane. */
  control: string;
  node: string;
  executor: Executor;
  version: string;
  labels: Record<string, string>;
  capacity: Resources;
  log: Logger;
  heartbeatMs?: number;
  /** The node's certificate (mTLS); unset for a plaintext control plane (--insecure). */
  credentials?: NodeCredentials;
  /** First reconnect delay; doubles up to maxReconnectMs, with jitter. */
  reconnectMs?: number;
  maxReconnectMs?: number;
}

/**
 * Reconnecting fast matters more than sparing a control plane that is down: its restart must
 * look like a blip to the fleet (it judges silence only from its start plus a grace, see
 * src/core/node-health.ts). A stream is retried within a second, and grpc-js's own connection
 * backoff (1 s doubling to 120 s by default) is capped the same way, so an agent connects
 * within about a second of the control plane listening again, however long it was down.
 */
const RECONNECT_MS = 250;
const MAX_RECONNECT_MS = 1_000;
const AGENT_CHANNEL_OPTIONS = {
  "grpc.initial_reconnect_backoff_ms": RECONNECT_MS,
  "grpc.max_reconnect_backoff_ms": MAX_RECONNECT_MS,
};

interface Held {
  id: string;
  generation: number;
  state: InstanceState;
  /** Why it failed and how it exited, once it did (told again in every hello). */
  reason: string;
  exitCode?: number;
  running?: Running;
  /** Stops its readiness checks. */
  stopChecks?: () => void;
  /** Serializes operations on one instance (a stop waits for its start). */
  op: Promise<void>;
}

/** Wait before retrying a failed certificate renewal. */
const RENEWAL_RETRY_MS = 60_000;

/** How often executors do their upkeep (log rotation). */
const HOUSEKEEPING_MS = 10_000;

/** Reports kept while disconnected; beyond this the oldest go (hello still carries every current state). */
const MAX_BACKLOG = 10_000;

/**
 * Messages per AgentBatch. Reports, checks and acks are a few dozen bytes (a check's detail is
 * one line): a full batch stays far below the 4 MiB message limit. Log chunks, which can be
 * large, are never batched.
 */
const MAX_BATCH = 256;

/** One message as itself, several as an AgentBatch. */
function batch(messages: AgentMessage[]): AgentMessage {
  return messages.length === 1 ? messages[0]! : { payload: { $case: "batch", value: { messages } } };
}

export class Agent {
  private readonly held = new Map<string, Held>();
  /** Reports made while disconnected, in order. */
  private backlog: AgentMessage[] = [];
  /**
   * Reports, checks and acks made during this turn of the event loop, sent together when it
   * ends: starting a copy makes three (provisioning, running, the ack) in quick succession,
   * and one message costs both ends about as much as three small ones in a batch.
   */
  private outbox: AgentMessage[] = [];
  private flushScheduled = false;
  /** The current stream has carried our hello. */
  private synced = false;
  /** Open log streams by command id. */
  private readonly logStreams = new Map<number, AbortController>();
  private client: AgentGatewayClient;
  private renewal: ReturnType<typeof setTimeout> | undefined;
  private stream: ClientDuplexStream<AgentMessage, ControlMessage> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private housekeeping: ReturnType<typeof setInterval> | undefined;
  private failures = 0;
  private closed = false;

  constructor(private readonly opts: AgentOptions) {
    this.client = new AgentGatewayClient(opts.control, credentials.createInsecure(), AGENT_CHANNEL_OPTIONS);
  }

  /** Connects with an identity and schedules its renewal. */
  private useIdentity(id: Identity): void {
    this.client.close();
    this.client = new AgentGatewayClient(this.opts.control, channelCredentials(id), { ...CHANNEL_OPTIONS, ...AGENT_CHANNEL_OPTIONS });
    this.scheduleRenewal(id, renewAt(id.certPem) - Date.now());
  }

  private scheduleRenewal(id: Identity, inMs: number): void {
    clearTimeout(this.renewal);
    this.renewal = setTimeout(
      () => {
        void this.opts.credentials!.enroll(id).then(
          (renewed) => {
            this.opts.log.info("certificate renewed", { renewAt: new Date(renewAt(renewed.certPem)).toISOString() });
            this.useIdentity(renewed);
            // Reconnect on the new certificate.
            this.stream?.cancel();
          },
          (err: Error) => {
            this.opts.log.warn("certificate renewal failed; retrying in a minute", { error: err.message });
            this.scheduleRenewal(id, RENEWAL_RETRY_MS);
          },
        );
      },
      Math.max(1_000, Math.min(inMs, 2 ** 31 - 1)),
    );
  }

  /** Adopts what a previous run left behind, then connects. */
  async start(): Promise<void> {
    if (this.opts.credentials) this.useIdentity(await this.enrollWhenReachable(this.opts.credentials));
    for (const a of await this.opts.executor.adopt()) {
      const h: Held = { id: a.instanceId, generation: a.generation, state: "running", reason: "", op: Promise.resolve() };
      this.held.set(h.id, h);
      if (a.running) {
        h.running = a.running;
        this.watchExit(h, a.running);
        this.opts.log.info("adopted a running instance", { instance: h.id });
      } else {
        this.apply(h, { type: "fail", reason: describeExit(a.exit!), exitCode: a.exit!.exitCode ?? undefined }, true);
        this.opts.log.info("an instance ended while the agent was away", { instance: h.id, reason: h.reason });
      }
    }
    this.housekeeping = setInterval(() => this.opts.executor.housekeeping(), HOUSEKEEPING_MS);
    this.connect();
  }

  /** Enrolls, waiting out a control plane that is not reachable or not answering yet; a refusal is final. */
  private async enrollWhenReachable(creds: NodeCredentials): Promise<Identity> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await creds.ensure(Date.now());
      } catch (err) {
        const code = (err as { code?: number }).code;
        // Unreachable, or too busy to answer in time (a fleet enrolling at once): try again.
        if ((code !== status.UNAVAILABLE && code !== status.DEADLINE_EXCEEDED) || this.closed) throw err;
        const delay = this.reconnectDelay(attempt);
        this.opts.log.warn("control plane unreachable; retrying enrollment", { inMs: Math.round(delay) });
        await Bun.sleep(delay);
      }
    }
  }

  /** Wait before the attempt after `failures` failed ones: doubling from reconnectMs up to maxReconnectMs, with jitter. */
  private reconnectDelay(failures: number): number {
    const cap = this.opts.maxReconnectMs ?? MAX_RECONNECT_MS;
    return Math.min(cap, (this.opts.reconnectMs ?? RECONNECT_MS) * 2 ** Math.min(failures, 30)) * (0.5 + Math.random() / 2);
  }

  /** Closes the stream. Instances keep running: a restarted agent reports them again. */
  close(): void {
    // What this turn reported goes out before the stream is cancelled, as it did unbatched.
    this.flush();
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.housekeeping);
    clearTimeout(this.renewal);
    clearInterval(this.heartbeat);
    for (const a of this.logStreams.values()) a.abort();
    this.stream?.cancel();
    this.client.close();
  }

  /** Stops every instance it holds (used by `tessera dev` on exit). */
  async stopAll(gracePeriodMs: number): Promise<void> {
    await Promise.all([...this.held.values()].map((h) => this.stopInstance({ instanceId: h.id, gracePeriodMs, generation: h.generation })));
  }

  private connect(): void {
    const { log } = this.opts;
    // Waits for the channel to connect instead of failing at once while the control plane is
    // away; the channel retries on its own (AGENT_CHANNEL_OPTIONS).
    const stream = this.client.connect(new Metadata({ waitForReady: true }));
    this.stream = stream;
    let ended = false;
    stream.write({
      payload: {
        $case: "hello",
        value: {
          node: this.opts.node,
          executors: this.opts.executor.kinds,
          version: this.opts.version,
          labels: this.opts.labels,
          capacity: this.opts.capacity,
          instances: [...this.held.values()].map((h) => ({
            instanceId: h.id,
            generation: h.generation,
            state: INSTANCE_STATE_TO_WIRE[h.state],
            reason: h.reason,
            exitCode: h.exitCode,
          })),
        },
      },
    });
    this.synced = true;
    const kept = this.backlog.splice(0);
    for (let i = 0; i < kept.length; i += MAX_BATCH) stream.write(batch(kept.slice(i, i + MAX_BATCH)));
    this.heartbeat = setInterval(() => {
      const ok = stream.write({ payload: { $case: "heartbeat", value: {} } });
      log.debug("heartbeat", { buffered: !ok });
    }, this.opts.heartbeatMs ?? 1_000);
    log.info("hello sent", { holds: this.held.size });
    stream.on("data", (msg: ControlMessage) => {
      this.failures = 0;
      void this.handle(msg);
    });
    const lost = (why: string) => {
      if (ended) return;
      ended = true;
      this.synced = false;
      clearInterval(this.heartbeat);
      // Whoever asked for logs on this stream is gone with it.
      for (const a of this.logStreams.values()) a.abort();
      if (this.stream === stream) this.stream = undefined;
      if (this.closed) return;
      const delay = this.reconnectDelay(this.failures++);
      log.warn("control plane stream lost; reconnecting", { why, inMs: Math.round(delay) });
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
    stream.on("error", (err: Error) => lost(err.message));
    stream.on("end", () => lost("stream ended"));
    log.info("connecting to control plane", { control: this.opts.control, node: this.opts.node });
  }

  /** Sends an ack with the reports of this turn; one for a stream that is gone is dropped. */
  private send(msg: AgentMessage): void {
    if (this.stream) this.enqueue(msg);
  }

  /** Writes a message at once, after what the outbox holds (order is kept). */
  private sendNow(msg: AgentMessage): void {
    this.flush();
    this.stream?.write(msg);
  }

  private enqueue(msg: AgentMessage): void {
    this.outbox.push(msg);
    if (this.outbox.length >= MAX_BATCH) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what the outbox holds as one message; reports and checks of a stream that went away are kept. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0) return;
    const messages = this.outbox;
    this.outbox = [];
    if (this.stream && this.synced) {
      this.stream.write(batch(messages));
      return;
    }
    for (const m of messages) if (m.payload?.$case !== "ack") this.keep(m);
  }

  /**
   * Sends an instance report, or keeps it while disconnected: kept reports follow the next
   * hello in order (the control plane treats those its catch-up already covers as superseded).
   */
  private report(msg: AgentMessage): void {
    if (this.stream && this.synced) this.enqueue(msg);
    else this.keep(msg);
  }

  private keep(msg: AgentMessage): void {
    this.backlog.push(msg);
    if (this.backlog.length > MAX_BACKLOG) {
      this.backlog.shift();
      this.opts.log.warn("report backlog full; dropped the oldest (the next hello carries every current state)", { kept: MAX_BACKLOG });
    }
  }

  private async handle(msg: ControlMessage): Promise<void> {
    // Log streams answer with LogChunks instead of an ack.
    if (msg.command?.$case === "logs") return this.streamLogs(msg.commandId, msg.command.value);
    if (msg.command?.$case === "cancelLogs") {
      this.logStreams.get(msg.command.value.commandId)?.abort();
      return;
    }
    let error = "";
    try {
      switch (msg.command?.$case) {
        case "start":
          await this.startInstance(msg.command.value);
          break;
        case "stop":
          await this.stopInstance(msg.command.value);
          break;
        default:
          error = "unknown command";
      }
    } catch (err) {
      error = (err as Error).message;
    }
    this.send({ payload: { $case: "ack", value: { commandId: msg.commandId, error } } });
  }

  private async streamLogs(commandId: number, req: StreamLogs): Promise<void> {
    const abort = new AbortController();
    this.logStreams.set(commandId, abort);
    const chunk = (lines: string[], eof: boolean, error = "") =>
      this.sendNow({ payload: { $case: "logChunk", value: { commandId, lines, eof, error } } });
    try {
      await this.opts.executor.readLogs({ instanceId: req.instanceId, tail: req.tail, follow: req.follow, signal: abort.signal, emit: (lines) => chunk(lines, false) });
      chunk([], true);
    } catch (err) {
      chunk([], true, (err as Error).message);
    } finally {
      this.logStreams.delete(commandId);
    }
  }

  /** Applies an event to a held instance; reports the new state when the agent originated it. */
  private apply(h: Held, event: InstanceEvent, report: boolean): boolean {
    const result = transition(h.state, event);
    if (!result.ok) {
      this.opts.log.warn("transition refused", { instance: h.id, from: h.state, event: event.type });
      return false;
    }
    h.state = result.state;
    if (event.type === "fail") {
      h.reason = event.reason;
      h.exitCode = event.exitCode;
    }
    if (report) {
      const reported = result.state as ReportedState;
      this.report({
        payload: {
          $case: "report",
          value: {
            instanceId: h.id,
            generation: h.generation,
            state: INSTANCE_STATE_TO_WIRE[reported],
            reason: event.type === "fail" ? event.reason : "",
            exitCode: event.type === "fail" || event.type === "finish" ? event.exitCode : undefined,
          },
        },
      });
    }
    return true;
  }

  /** Runs an instance's readiness checks while it runs, reporting each verdict change. */
  private async startChecks(h: Held, req: StartRequest): Promise<void> {
    const checks = req.spec.checks ?? [];
    if (checks.length === 0) return;
    const send = (check: Check, passing: boolean, detail: string) => {
      if (h.state !== "running") return;
      this.opts.log.info(passing ? "check passing" : "check failing", { instance: h.id, check: check.name, detail });
      if (isLiveness(check)) {
        // The copy stopped working: end it; the control plane restarts it under its policy.
        if (!passing) void this.failLiveness(h, `liveness check ${check.name} failed: ${detail}`, req.spec);
        return;
      }
      this.report({ payload: { $case: "check", value: { instanceId: h.id, generation: h.generation, check: check.name, passing, detail } } });
    };
    const target = await this.opts.executor.probeTarget(req).catch((err: Error) => {
      this.opts.log.warn("cannot run checks", { instance: h.id, error: err.message });
      return null;
    });
    if (target === null) return;
    if (target === undefined) {
      for (const c of checks) send(c, true, "simulated");
      return;
    }
    h.stopChecks = runChecks(req, target, send);
  }

  /** Ends a copy whose liveness check failed and reports it failed with that reason. */
  private async failLiveness(h: Held, reason: string, spec: WorkloadSpec): Promise<void> {
    h.stopChecks?.();
    this.apply(h, { type: "fail", reason }, true);
    await h.running?.stop(resolveSpec(spec).stopGracePeriodMs);
  }

  /** An exit nobody asked for is a failure; one during a stop is handled by stopInstance. */
  private watchExit(h: Held, running: Running): void {
    void running.exited.then((exit) => {
      h.stopChecks?.();
      if (h.state === "running") this.apply(h, { type: "fail", reason: describeExit(exit), exitCode: exit.exitCode ?? undefined }, true);
    });
  }

  private startInstance(cmd: StartInstance): Promise<void> {
    if (this.held.has(cmd.instanceId)) return this.held.get(cmd.instanceId)!.op;
    const h: Held = { id: cmd.instanceId, generation: cmd.generation, state: "scheduled", reason: "", op: Promise.resolve() };
    this.held.set(h.id, h);
    h.op = (async () => {
      this.apply(h, { type: "provision" }, true);
      try {
        const running = await this.opts.executor.start({ instanceId: cmd.instanceId, name: cmd.name, workload: cmd.workload, generation: cmd.generation, spec: cmd.spec! });
        h.running = running;
        this.apply(h, { type: "run" }, true);
        this.opts.log.info("instance running", { instance: h.id });
        this.watchExit(h, running);
        await this.startChecks(h, { instanceId: cmd.instanceId, name: cmd.name, workload: cmd.workload, generation: cmd.generation, spec: cmd.spec! });
      } catch (err) {
        this.apply(h, { type: "fail", reason: (err as Error).message }, true);
        throw err;
      }
    })();
    return h.op;
  }

  private stopInstance(cmd: StopInstance): Promise<void> {
    const h = this.held.get(cmd.instanceId);
    if (!h) {
      // Nothing held: it is stopped as far as this node knows.
      this.report({ payload: { $case: "report", value: { instanceId: cmd.instanceId, generation: cmd.generation, state: INSTANCE_STATE_TO_WIRE.stopped, reason: "" } } });
      return Promise.resolve();
    }
    h.op = h.op
      .catch(() => {})
      .then(async () => {
        if (h.state === "stopped") return;
        h.stopChecks?.();
        if (h.state !== "stopping") this.apply(h, { type: "stop", reason: "requested" }, false);
        const exit = h.running ? await h.running.stop(cmd.gracePeriodMs) : undefined;
        this.apply(h, { type: "finish", exitCode: exit?.exitCode ?? undefined }, true);
        this.held.delete(h.id);
        this.opts.log.info("instance stopped", { instance: h.id });
      });
    return h.op;
  }
}
