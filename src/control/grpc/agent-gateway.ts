/**
 * The AgentGateway service: one bidirectional stream per agent. Messages become writer
 * commands; effects for a node are written to its stream as ControlMessages, and every agent
 * is kept up to date with the cluster's endpoints (its DNS answers from them).
 */
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import type { Command } from "../../core/decide/commands.js";
import { checkHello } from "../../core/access/agent-hello.js";
import type { Effect } from "../../core/model/effects.js";
import { isReportedState } from "../../core/model/instance-machine.js";
import type { Logger } from "../../shell/logger.js";
import { sessionGate } from "../../core/reconcile/gates.js";
import type { HeartbeatPolicy } from "../../core/model/heartbeat.js";
import { describeRejection } from "../../core/model/rejections.js";
import { checkNodeCertificate } from "../../core/access/node-identity.js";
import { rejectionError } from "./rejection-codes.js";
import { instanceStateFromWire } from "../../core/model/wire-enums.js";
import { undecodable } from "./undecodable.js";
import { MAX_USAGE_COPIES, UsageBoard } from "../writer/usage-board.js";
import type { AgentGatewayServer, AgentMessage, ControlMessage } from "../../gen/tessera/v1/agent_gateway.js";
import { type AgentSession as Session, commandMessage, type Deliver, type LeaderTerm, sendCommands, sendEndpoints } from "./agent-commands.js";
import type { ExecHandle, ExecSubscription, LogSubscription } from "./agent-subscriptions.js";
import type { EndpointsHub } from "../writer/endpoints-hub.js";
import { AgentHeartbeats, intervalMessage } from "./agent-heartbeats.js";
import type { Writer } from "../writer/writer.js";

type Stream = ServerDuplexStream<AgentMessage, ControlMessage>;

type Payload = NonNullable<AgentMessage["payload"]>;

/** One agent stream as its messages are handled: its session id, and its node once its hello is accepted. */
interface StreamState {
  id: number;
  stream: Stream;
  node: string | undefined;
  /** The stream ended: nothing more it sends is handled. */
  closed: boolean;
  /** Its hello asked for heartbeats to be answered (the agent judges the stream by what it hears). */
  answerHeartbeats?: boolean;
  /** A beat of it was answered: the agent knows this control plane answers, and checks for silence. */
  answered?: boolean;
  /** Ends the stream with `code` (INVALID_ARGUMENT unless said), logging why. */
  refuse(details: string, code?: status): void;
}

export class AgentGateway {
  private readonly sessions = new Map<string, Session>();
  private nextSession = 1;
  private nextCommandId = 1;
  private readonly logs = new Map<number, LogSubscription>();
  private readonly execs = new Map<number, ExecSubscription>();
  /** What the connected nodes' copies use (their agents' last samples). */
  readonly usage = new UsageBoard();
  /** The fleet's interval and thresholds, and the beats heard, handed over a window at a time. */
  private readonly heartbeats: AgentHeartbeats;

  constructor(
    private readonly writer: Writer,
    private readonly log: Logger,
    /** The configured thresholds and the cap on the fleet's heartbeats a second (heartbeat.ts scales them to the fleet). */
    policy: HeartbeatPolicy,
    /** The cluster's endpoints: a snapshot after each hello, then every difference, to every agent. */
    private readonly endpoints: EndpointsHub,
    /** Who the stream's client certificate says the caller is, and its serial; undefined: any node (--insecure). */
    private readonly identify?: (stream: Stream) => Promise<{ node: string; serial: string; notAfter: number } | { refusal: string }>,
    /** The term whose starts and stops this gateway sends: stamped on each, for the agents' audit. */
    private readonly term: LeaderTerm = { epoch: 0, leader: "" },
    /** The values of the secrets and configs a spec uses, sent with each start (secret-seal.ts). */
    private readonly deliver: Deliver = () => [],
  ) {
    this.heartbeats = new AgentHeartbeats(writer, policy, log);
    endpoints.subscribe((diff) => {
      for (const s of this.sessions.values()) sendEndpoints(s, diff);
    });
  }

  /**
   * After a commit: when it connected or removed a node, the fleet's heartbeat interval may
   * have changed, and then every agent is told the new one.
   */
  fleetMayHaveChanged(events: ReadonlyArray<{ event: { type: string } }>): void {
    if (!events.some((e) => e.event.type === "NodeConnected" || e.event.type === "NodeRemoved")) return;
    if (!this.heartbeats.refresh()) return;
    const told = intervalMessage(this.heartbeats.toldMs);
    for (const s of this.sessions.values()) s.stream.write(told);
  }

  readonly service: AgentGatewayServer = {
    connect: (stream) => this.accept(stream),
  };

  /**
   * Writes each effect to its node's stream, in order; an absent node gets it again on
   * reconnect. A node's commands of one turn go as one ControlBatch when its agent takes one:
   * a rollout's copies on few nodes cost one message per node, not one per copy.
   */
  dispatch(effects: Effect[]): void {
    const outgoing = new Map<Session, ControlMessage[]>();
    for (const effect of effects) {
      const session = this.sessions.get(effect.node);
      if (!session) {
        this.log.debug("effect held: node not connected", { node: effect.node, effect: effect.type });
        continue;
      }
      if (effect.type === "DisconnectNode") {
        // What the turn sent it before goes first.
        sendCommands(session, outgoing.get(session) ?? []);
        outgoing.delete(session);
        const why = effect.removed ? `node ${effect.node} was removed` : `node ${effect.node} declared Offline`;
        this.log.warn(`${why}; closing its stream`, { node: effect.node });
        this.sessions.delete(effect.node);
        this.endStreamsOf(effect.node, why);
        const err = effect.removed ? { code: status.UNAUTHENTICATED, details: `${why}: its certificate is refused` } : { code: status.UNAVAILABLE, details: "node declared Offline; reconnect" };
        session.stream.emit("error", err);
        continue;
      }
      const message = commandMessage(effect, this.nextCommandId++, this.term, this.deliver);
      const queued = outgoing.get(session);
      if (queued) queued.push(message);
      else outgoing.set(session, [message]);
    }
    for (const [session, messages] of outgoing) sendCommands(session, messages);
  }

  /**
   * Asks a node's agent for an instance's output. Returns the function that cancels it;
   * `onEnd` is called exactly once unless cancelled first.
   */
  openLogs(node: string, instanceId: string, tail: number, follow: boolean, sub: Omit<LogSubscription, "node">): () => void {
    const session = this.sessions.get(node);
    if (!session) {
      sub.onEnd(`the output of ${instanceId} is on node ${node}, which is not connected`);
      return () => {};
    }
    const commandId = this.nextCommandId++;
    this.logs.set(commandId, { node, ...sub });
    session.stream.write({ commandId, command: { $case: "logs", value: { instanceId, tail, follow } } });
    return () => {
      if (!this.logs.delete(commandId)) return;
      this.sessions.get(node)?.stream.write({ commandId: this.nextCommandId++, command: { $case: "cancelLogs", value: { commandId } } });
    };
  }

  /**
   * Runs a command in an instance on a node (see ExecCommand). `onEnd` is called exactly once
   * unless cancelled first.
   */
  openExec(node: string, instanceId: string, command: string[], stdin: boolean, sub: Omit<ExecSubscription, "node">): ExecHandle {
    const session = this.sessions.get(node);
    if (!session) {
      sub.onEnd({ error: `node ${node} is not connected`, nodeGone: true });
      return { input() {}, cancel() {} };
    }
    const commandId = this.nextCommandId++;
    this.execs.set(commandId, { node, ...sub });
    session.stream.write({ commandId, command: { $case: "exec", value: { instanceId, command, stdin } } });
    const send = (input: { stdin?: Buffer; stdinEof?: boolean; signal?: string }) =>
      this.sessions.get(node)?.stream.write({
        commandId: this.nextCommandId++,
        command: { $case: "execInput", value: { commandId, stdin: input.stdin ?? Buffer.alloc(0), stdinEof: input.stdinEof ?? false, signal: input.signal ?? "" } },
      });
    return {
      input: (input) => {
        if (this.execs.has(commandId)) send(input);
      },
      cancel: () => {
        if (this.execs.delete(commandId)) send({ signal: "SIGKILL" });
      },
    };
  }

  /** Ends the log streams and execs of a node whose stream is gone. */
  private endStreamsOf(node: string, why: string): void {
    for (const [id, sub] of this.logs) {
      if (sub.node !== node) continue;
      this.logs.delete(id);
      sub.onEnd(why);
    }
    for (const [id, sub] of this.execs) {
      if (sub.node !== node) continue;
      this.execs.delete(id);
      sub.onEnd({ error: why, nodeGone: true });
    }
  }

  /** Submits a command nobody waits for: the agent is not answered, so a refusal or a drop is only logged. */
  private submitAndLogRefusal(command: Command, node: string): void {
    this.writer.submit(command).then(
      (d) => {
        if (!d.rejection) return;
        // Late reports after a reconnect are expected; anything else deserves attention.
        const level = d.rejection.kind === "SupersededReport" ? "debug" : "warn";
        this.log[level](`${command.type} refused`, { node, details: describeRejection(d.rejection) });
      },
      (err: Error) => this.log.debug(`${command.type} dropped`, { node, error: err.message }),
    );
  }

  /**
   * Ends every stream (shutdown, or a store that cannot record what agents say); agents
   * reconnect. `unavailable`: ended with UNAVAILABLE saying why, which sends an agent given
   * several control planes to the next (this one stepped down).
   */
  closeAll(why: string, unavailable = false): void {
    for (const [node, s] of this.sessions) {
      this.endStreamsOf(node, why);
      if (unavailable) s.stream.emit("error", { code: status.UNAVAILABLE, details: why });
      else s.stream.end();
    }
    this.sessions.clear();
    this.heartbeats.drop();
  }

  /**
   * Why a verified certificate may not speak for its node (it is not the node's current one:
   * renewed, enrolled again, or removed), or undefined. A node without a recorded certificate
   * (enrolled before they were recorded) has this one recorded now.
   */
  private async admitCertificate(node: string, serial: string, notAfter: number): Promise<string | undefined> {
    const verdict = checkNodeCertificate(this.writer.view, node, serial);
    if (verdict === undefined) return undefined;
    if (verdict !== "adopt") return describeRejection(verdict);
    const d = await this.writer.submit({ type: "CertifyNode", node, serial, notAfter, proof: { via: "connection" } });
    return d.rejection && describeRejection(d.rejection);
  }

  private accept(stream: Stream): void {
    const s: StreamState = {
      id: this.nextSession++,
      stream,
      node: undefined,
      closed: false,
      refuse: (details, code = status.INVALID_ARGUMENT) => {
        this.log.warn("agent stream refused", { details });
        stream.emit("error", { code, details });
      },
    };
    const identity = this.identify?.(stream);
    const routes = this.routesFor(s);
    // Messages are handled one after another: the hello waits for the certificate check.
    let queue = Promise.resolve();
    stream.on("data", (msg: AgentMessage) => {
      const session = s.node === undefined ? undefined : this.sessions.get(s.node);
      if (session?.id === s.id) session.lastHeardAt = Date.now();
      queue = queue.then(() => handle(msg)).catch((err: Error) => s.refuse(`internal error: ${err.message}`, status.INTERNAL));
    });
    const handle = async (msg: AgentMessage): Promise<void> => {
      if (s.closed) return;
      const bad = undecodable(msg);
      if (bad !== undefined) return s.refuse(`message: expected a tessera.v1.AgentMessage (${bad})`);
      if (s.node === undefined) return this.hello(s, msg.payload, identity);
      return routes.route(s.node, msg.payload, "");
    };
    // grpc-js emits several of these for one ending; 'close' and friends all mean "gone".
    const gone = () => this.gone(s);
    stream.on("end", () => {
      gone();
      stream.end();
    });
    stream.on("error", gone);
    stream.on("close", gone);
  }

  /** The first message: a hello the core accepts (agent-hello.ts), from the node's certificate, taking the node's session. */
  private async hello(s: StreamState, payload: AgentMessage["payload"], identity: ReturnType<NonNullable<typeof this.identify>> | undefined): Promise<void> {
    if (payload?.$case !== "hello") return s.refuse("first message on an agent stream must be hello");
    const checked = checkHello(payload.value);
    if ("refusal" in checked) return s.refuse(checked.refusal);
    const hello = checked.hello;
    if (identity) {
      const who = await identity;
      if ("refusal" in who) return s.refuse(who.refusal, status.UNAUTHENTICATED);
      if (who.node !== hello.node) return s.refuse(`this certificate is for node ${who.node}; it cannot speak for node ${hello.node}`, status.PERMISSION_DENIED);
      const notCurrent = await this.admitCertificate(who.node, who.serial, who.notAfter);
      if (notCurrent) return s.refuse(notCurrent, status.UNAUTHENTICATED);
    }
    const previous = this.sessions.get(hello.node);
    const taken = sessionGate(hello.node, previous, Date.now(), this.heartbeats.thresholds);
    if (taken) {
      const { code, details } = rejectionError(taken);
      return s.refuse(details, code);
    }
    const node = (s.node = hello.node);
    s.answerHeartbeats = payload.value.answerHeartbeats;
    if (previous) previous.stream.end();
    const session: Session = { id: s.id, stream: s.stream, lastHeardAt: Date.now(), acceptsBatches: payload.value.acceptsBatches, spoke: false };
    this.sessions.set(node, session);
    sendEndpoints(session, this.endpoints.snapshot());
    // A new stream beats at the agent's own interval: only a stretched one needs telling (and an
    // agent older than the message is not sent what it would refuse as unknown).
    if (this.heartbeats.toldMs > 0) s.stream.write(intervalMessage(this.heartbeats.toldMs));
    this.log.info("agent connected", { node, session: s.id, executors: hello.executors, holds: hello.instances.length });
    // A hello that cannot be recorded (the store refuses writes) leaves the stream useless:
    // end it, and the agent tries again.
    this.writer.submit({ type: "AgentConnected", session: s.id, ...hello }).then(
      (d) => d.rejection && this.log.warn("AgentConnected refused", { node, details: describeRejection(d.rejection) }),
      (err: Error) => s.refuse(`hello not recorded: ${err.message}`, status.UNAVAILABLE),
    );
  }

  /**
   * Where each message of a synced stream goes, one handler per kind (the compiler names one
   * forgotten); `at` locates a message inside a batch ("batch.messages[3].").
   */
  private routesFor(s: StreamState): { route(node: string, payload: AgentMessage["payload"], at: string): void } {
    const submit = (command: Command, node: string) => this.submitAndLogRefusal(command, node);
    const routes: { [K in Payload["$case"]]: (node: string, value: Extract<Payload, { $case: K }>["value"], at: string) => void } = {
      heartbeat: (node) => {
        this.heartbeats.beat(node, s.id);
        // The agent judges its stream by any word on it: a beat after which the stream carried
        // one needs no answer (under a burst, many), but a stream's first beat is answered.
        const session = this.sessions.get(node);
        if (s.answerHeartbeats && !(session?.id === s.id && session.spoke && s.answered)) {
          s.stream.write(intervalMessage(this.heartbeats.toldMs));
          s.answered = true;
        }
        if (session?.id === s.id) session.spoke = false;
      },
      report: (node, r, at) => {
        const state = instanceStateFromWire(r.state);
        if (state === undefined || !isReportedState(state)) {
          this.log.warn("report refused", { node, instance: r.instanceId, details: `${at}report.state: expected PROVISIONING, RUNNING, FAILED or STOPPED, got ${r.state}` });
          return;
        }
        submit({ type: "ReportInstance", node, instanceId: r.instanceId, generation: r.generation, state, reason: r.reason, exitCode: r.exitCode, stderrTail: r.stderrTail }, node);
      },
      check: (node, c) => submit({ type: "ReportCheck", node, instanceId: c.instanceId, generation: c.generation, check: c.check, passing: c.passing, detail: c.detail }, node),
      logChunk: (node, chunk) => {
        const sub = this.logs.get(chunk.commandId);
        if (!sub || sub.node !== node) return;
        if (chunk.lines.length > 0) sub.onLines(chunk.lines);
        if (chunk.eof) {
          this.logs.delete(chunk.commandId);
          sub.onEnd(chunk.error || undefined);
        }
      },
      execOutput: (node, out) => {
        const sub = this.execs.get(out.commandId);
        if (!sub || sub.node !== node) return;
        if (out.stdout.length > 0 || out.stderr.length > 0) sub.onOutput(out.stdout, out.stderr);
        if (out.exited) {
          this.execs.delete(out.commandId);
          sub.onEnd(out.error !== "" ? { error: out.error, nodeGone: false } : { exitCode: out.exitCode, signal: out.signal });
        }
      },
      // Volatile: not through the writer, not logged (a batch never carries one).
      usage: (node, { copies }) => {
        if (copies.length > MAX_USAGE_COPIES) return s.refuse(`usage.copies: expected at most ${MAX_USAGE_COPIES}, got ${copies.length}`);
        this.usage.record(node, copies, Date.now());
      },
      ack: (node, ack) => {
        if (ack.error !== "") this.log.warn("command failed on agent", { node, command: ack.commandId, error: ack.error });
      },
      batch: (node, { messages }) => {
        // Checked whole before any of it is handled: a refused batch changes nothing.
        const bad = messages.findIndex((m) => m.payload === undefined || m.payload.$case === "hello" || m.payload.$case === "batch" || m.payload.$case === "usage");
        if (bad >= 0) return s.refuse(`batch.messages[${bad}]: expected a report, check, ack, log_chunk, exec_output or heartbeat, got ${messages[bad]!.payload?.$case ?? "no payload"}`);
        messages.forEach((m, i) => route(node, m.payload, `batch.messages[${i}].`));
      },
      hello: () => s.refuse("hello may only be sent once per stream"),
    };
    const route = (node: string, payload: AgentMessage["payload"], at: string): void => {
      if (payload === undefined) return s.refuse("message has no payload");
      (routes[payload.$case] as (node: string, value: unknown, at: string) => void)(node, payload.value, at);
    };
    return { route };
  }

  /** The stream ended: its node's session, streams and usage go, and the core hears of it. */
  private gone(s: StreamState): void {
    if (s.closed) return;
    s.closed = true;
    const node = s.node;
    if (node === undefined) return;
    if (this.sessions.get(node)?.id === s.id) {
      this.sessions.delete(node);
      this.usage.forget(node);
      this.endStreamsOf(node, `node ${node} disconnected`);
    }
    this.log.info("agent disconnected", { node, session: s.id });
    this.submitAndLogRefusal({ type: "AgentDisconnected", node, session: s.id }, node);
  }
}
