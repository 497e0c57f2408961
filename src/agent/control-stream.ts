/**
 * The agent's one AgentGateway.Connect stream: dialing the control plane, the hello that
 * opens each stream, heartbeats, and reconnecting with backoff when a stream is lost. Given
 * several control planes (`--control a:7700,b:7700`), a stream refused by a standby moves to
 * the leader it names, and a lost or unreachable one to the next address: the hello on the
 * new leader says what the agent runs, so its copies are adopted, not restarted.
 * Shell: owns the gRPC client, the stream and their timers; what arrives goes to the agent.
 */
import { type ChannelCredentials, type ChannelOptions, type ClientDuplexStream, connectivityState, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { isNotLeader, leaderNamedIn, nextAfter, parseAddressList } from "../core/ha/control-addresses.js";
import type { Logger } from "../shell/logger.js";
import { AgentGatewayClient, type AgentMessage, type ControlMessage, type Hello } from "../gen/tessera/v1/agent_gateway.js";
import { CHANNEL_OPTIONS } from "../shell/control-channel.js";
import type { AgentOptions } from "./agent.js";
import { channelCredentials, type Identity } from "./credentials.js";

/**
 * Reconnecting fast matters more than sparing a control plane that is down: its restart must
 * look like a blip to the fleet (it judges silence only from its start plus a grace, see
 * src/core/model/node-health.ts). A stream is retried within a second, and grpc-js's own connection
 * backoff (1 s doubling to 120 s by default) is capped the same way, so an agent connects
 * within about a second of the control plane listening again, however long it was down.
 */
const RECONNECT_MS = 250;
const MAX_RECONNECT_MS = 1_000;
const AGENT_CHANNEL_OPTIONS = {
  "grpc.initial_reconnect_backoff_ms": RECONNECT_MS,
  "grpc.max_reconnect_backoff_ms": MAX_RECONNECT_MS,
  // A channel's own subchannels: grpc-js's shared pool is searched entry by entry, comparing
  // credentials, so a process running many agents (the benchmark's workers) would connect its
  // n-th in O(n); an agent's channels have nothing to share.
  "grpc.use_local_subchannel_pool": 1,
};

/**
 * A control plane that stops answering (frozen, cut off) must be noticed: with several, to
 * move to the next; with one, to dial it again, since a connection across a network cut looks
 * open until TCP gives up on it, minutes later. The agent asks for its heartbeats to be
 * answered (Hello.answer_heartbeats) and gives a stream up after SILENCE_INTERVALS intervals
 * and SILENCE_SLACK_MS without a word (4 s at 1 s): any message is a word, and the control
 * plane answers a stream's first beat, then a beat only when it sent nothing else since the one
 * before. That costs it at most a message a heartbeat, which the fleet's cap bounds, where
 * HTTP/2 pings every 2 s from every agent cost it 5,000 a second at 10,000 agents (issue 33).
 * The pings stay, rare, for a control plane that does not answer heartbeats (older than that
 * field).
 */
const KEEPALIVE_CHANNEL_OPTIONS = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
};
/** Every channel the agent dials its control plane on, TLS or not (the server name only matters to TLS). */
const DIAL_OPTIONS: ChannelOptions = { ...CHANNEL_OPTIONS, ...AGENT_CHANNEL_OPTIONS, ...KEEPALIVE_CHANNEL_OPTIONS };
const SILENCE_INTERVALS = 2;
const SILENCE_SLACK_MS = 2_000;

/**
 * A connection not made within this long is dialled afresh: with several control planes, one
 * that accepts connections but does not finish them (frozen) makes way for the next; with one,
 * an attempt made while the network was cut would otherwise wait for TCP's next SYN retry
 * (which doubles, up to a minute apart) after the network is back.
 */
const CONNECT_TIMEOUT_MS = 3_000;

export type Backoff = Pick<AgentOptions, "reconnectMs" | "maxReconnectMs">;

/** Wait before the attempt after `failures` failed ones: doubling from reconnectMs up to maxReconnectMs, with jitter. */
export function reconnectDelay(failures: number, backoff: Backoff): number {
  const cap = backoff.maxReconnectMs ?? MAX_RECONNECT_MS;
  return Math.min(cap, (backoff.reconnectMs ?? RECONNECT_MS) * 2 ** Math.min(failures, 30)) * (0.5 + Math.random() / 2);
}

/** What the stream asks of the agent: the hello to open with, and what to do with what happens on it. */
export interface StreamHandlers {
  /** The hello for a new stream: the node and every copy it holds, as they are now. */
  hello(): Omit<Hello, "answerHeartbeats" | "acceptsBatches">;
  /** Right after the hello, on the same stream: what was kept while disconnected. */
  synced(stream: ClientDuplexStream<AgentMessage, ControlMessage>): void;
  command(msg: ControlMessage): void;
  /** The stream is gone, and whatever was tied to it (log streams) with it. */
  lost(): void;
}

export class ControlStream {
  private client: AgentGatewayClient;
  private readonly addresses: string[];
  /** The control plane dialed now. */
  private address: string;
  private creds: ChannelCredentials = credentials.createInsecure();
  private current: ClientDuplexStream<AgentMessage, ControlMessage> | undefined;
  /** The current stream has carried our hello. */
  private synced = false;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** The interval heartbeats go at now: the agent's own until the control plane tells another. */
  private intervalMs: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private closed = false;
  /** The current stream has been answered (a hello's first answer is the endpoints). */
  private answered = false;
  /** When a control plane was last heard, while no answered stream is up; else its last word on the stream. */
  private heardAt = Date.now();
  /** The current stream's control plane answers heartbeats: its silence says it is gone. */
  private answering = false;
  /** Streams given up for that silence, and how long it was. */
  private readonly silences = new WeakMap<ClientDuplexStream<AgentMessage, ControlMessage>, number>();

  constructor(
    private readonly opts: Pick<AgentOptions, "control" | "node" | "log" | "heartbeatMs"> & Backoff,
    private readonly handlers: StreamHandlers,
  ) {
    const parsed = parseAddressList(opts.control, "--control");
    if (!parsed.ok) throw new Error(parsed.error);
    this.addresses = parsed.addresses;
    this.address = parsed.addresses[0]!;
    this.client = new AgentGatewayClient(this.address, this.creds, DIAL_OPTIONS);
    this.intervalMs = this.ownIntervalMs;
  }

  /** The agent's own `--heartbeat`. */
  private get ownIntervalMs(): number {
    return this.opts.heartbeatMs ?? 1_000;
  }

  /**
   * Heartbeats on `stream` every `intervalMs` from now (at once too when `now`): a fleet
   * told a longer interval beats no faster than the control plane asked, and one told a
   * shorter one is heard within it.
   */
  private beat(stream: ClientDuplexStream<AgentMessage, ControlMessage>, intervalMs: number, now: boolean): void {
    const send = () => {
      const silence = this.silentFor(stream);
      if (silence !== undefined) {
        this.silences.set(stream, silence);
        return void stream.cancel();
      }
      const ok = stream.write({ payload: { $case: "heartbeat", value: {} } });
      this.opts.log.debug("heartbeat", { buffered: !ok });
    };
    clearInterval(this.heartbeat);
    this.intervalMs = intervalMs;
    if (now) send();
    this.heartbeat = setInterval(send, intervalMs);
  }

  /** How long a control plane that answers heartbeats has said nothing on `stream`, once that is too long. */
  private silentFor(stream: ClientDuplexStream<AgentMessage, ControlMessage>): number | undefined {
    const silence = Date.now() - this.heardAt;
    return this.answering && this.current === stream && silence > SILENCE_INTERVALS * this.intervalMs + SILENCE_SLACK_MS ? silence : undefined;
  }

  /** The control plane's interval (0: our own), adopted when it differs from the one in use. */
  private adoptInterval(stream: ClientDuplexStream<AgentMessage, ControlMessage>, toldMs: number): void {
    const intervalMs = toldMs > 0 ? toldMs : this.ownIntervalMs;
    if (intervalMs === this.intervalMs || this.current !== stream) return;
    this.opts.log.info("heartbeat interval", { intervalMs, told: toldMs > 0 });
    this.beat(stream, intervalMs, true);
  }

  /** Dials `address` from now on, on a new channel (the stream on the old client is already gone). */
  private moveTo(address: string): void {
    this.client.close();
    this.address = address;
    this.client = new AgentGatewayClient(address, this.creds, DIAL_OPTIONS);
  }

  /** The stream, if there is one (it may not have carried a hello yet). */
  get stream(): ClientDuplexStream<AgentMessage, ControlMessage> | undefined {
    return this.current;
  }

  /** The stream, once it has carried our hello: reports written to it follow that hello. */
  get syncedStream(): ClientDuplexStream<AgentMessage, ControlMessage> | undefined {
    return this.synced ? this.current : undefined;
  }

  /**
   * When a control plane was last heard: now while a stream it answered is up (a stream cut
   * off by the network is given up within about 4 s: KEEPALIVE_CHANNEL_OPTIONS), else one
   * heartbeat interval before the last such stream was lost (the control plane counts its
   * silence from the last heartbeat it took, which may be that much older, and the interval
   * grows with the fleet); the agent's start before any. The disconnect block's deadline
   * counts from it (disconnect-deadline.ts), so that a copy is stopped here before the control
   * plane replaces it, whatever the fleet's interval.
   */
  lastHeardAt(): number {
    return this.answered ? Date.now() : this.heardAt;
  }

  /** Closed for good: no reconnecting. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Dials with an identity from now on; a stream on the old one is ended, to reconnect on the new. */
  useIdentity(id: Identity): void {
    this.client.close();
    this.creds = channelCredentials(id);
    this.client = new AgentGatewayClient(this.address, this.creds, DIAL_OPTIONS);
    this.current?.cancel();
  }

  connect(): void {
    const { log } = this.opts;
    // With one address, waits for the channel to connect instead of failing at once while the
    // control plane is away; the channel retries on its own (AGENT_CHANNEL_OPTIONS). With
    // several, fails at once, to try the next.
    const stream = this.client.connect(new Metadata({ waitForReady: this.addresses.length === 1 }));
    this.current = stream;
    let ended = false;
    let connectTimedOut = false;
    const connectTimer = setTimeout(() => {
      if (this.client.getChannel().getConnectivityState(false) === connectivityState.READY) return;
      connectTimedOut = true;
      stream.cancel();
    }, CONNECT_TIMEOUT_MS);
    const hello = this.handlers.hello();
    this.answering = false;
    stream.write({ payload: { $case: "hello", value: { ...hello, answerHeartbeats: true, acceptsBatches: true } } });
    this.synced = true;
    this.handlers.synced(stream);
    // Each stream starts at the agent's own interval: this control plane may tell another.
    this.beat(stream, this.ownIntervalMs, false);
    log.info("hello sent", { holds: hello.instances.length });
    stream.on("data", (msg: ControlMessage) => {
      this.failures = 0;
      if (this.current === stream) this.answered = true;
      this.heardAt = Date.now();
      // A batch's commands are handled as if each had come alone, in order (one level: a batch
      // inside goes to the handler, which refuses it as an unknown command).
      for (const m of msg.command?.$case === "batch" ? msg.command.value.messages : [msg]) {
        if (m.command?.$case === "heartbeatInterval") {
          if (this.current === stream) this.answering = true;
          this.adoptInterval(stream, m.command.value.intervalMs);
        } else this.handlers.command(m);
      }
    });
    const lost = (why: string, next?: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(connectTimer);
      this.synced = false;
      clearInterval(this.heartbeat);
      // An interval before its last word when it answers heartbeats (given up for silence, that
      // is long before now), else before now: the control plane may have last heard this agent
      // up to an interval before the agent last heard it.
      if (this.current === stream && this.answered) this.heardAt = (this.answering ? this.heardAt : Date.now()) - this.intervalMs;
      if (this.current === stream) this.answered = false;
      this.handlers.lost();
      if (this.current === stream) this.current = undefined;
      if (this.closed) return;
      const delay = reconnectDelay(this.failures++, this.opts);
      log.warn("control plane stream lost; reconnecting", { why, inMs: Math.round(delay), ...(next !== undefined && next !== this.address ? { to: next } : {}) });
      this.reconnectTimer = setTimeout(() => {
        if (next !== undefined) this.moveTo(next);
        this.connect();
      }, delay);
    };
    stream.on("error", (err: ServiceError) => {
      // A standby names the leader; a control plane gone or unreachable makes way for the next.
      const refused = err.code === status.UNAVAILABLE && isNotLeader(err.details ?? "");
      // With one address, "next" is the same one, dialled on a new channel.
      // A connection gone quiet is dialled afresh too: a new stream on it would wait the same.
      const silence = this.silences.get(stream);
      const next = refused || connectTimedOut || silence !== undefined || (this.addresses.length > 1 && err.code === status.UNAVAILABLE) ? nextAfter(this.addresses, this.address, refused ? leaderNamedIn(err.details) : undefined) : undefined;
      lost(connectTimedOut ? `no connection within ${CONNECT_TIMEOUT_MS} ms` : silence !== undefined ? `no word from the control plane in ${silence} ms` : err.message, next);
    });
    stream.on("end", () => lost("stream ended"));
    log.info("connecting to control plane", { control: this.address, node: this.opts.node });
  }

  /** Ends the stream and stops reconnecting. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    this.current?.cancel();
    this.client.close();
  }
}
