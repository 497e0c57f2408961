/**
 * What the agent sends up its stream, and when: reports, checks and acks made in one turn of
 * the event loop go together as one AgentBatch; log chunks go at once; reports made while
 * disconnected are kept, in order, for the next stream. Shell: writes to the gRPC stream.
 */
import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "../shell/logger.js";
import type { AgentMessage, ControlMessage } from "../gen/tessera/v1/agent_gateway.js";

type Stream = ClientDuplexStream<AgentMessage, ControlMessage>;

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

/** Where the outbox writes: the stream, and the stream once it has carried the hello. */
export interface StreamState {
  readonly stream: Stream | undefined;
  readonly syncedStream: Stream | undefined;
}

export class Outbox {
  /** Reports made while disconnected, in order. */
  private backlog: AgentMessage[] = [];
  /**
   * Reports, checks and acks made during this turn of the event loop, sent together when it
   * ends: starting a copy makes three (provisioning, running, the ack) in quick succession,
   * and one message costs both ends about as much as three small ones in a batch.
   */
  private pending: AgentMessage[] = [];
  private flushScheduled = false;

  constructor(
    private readonly to: StreamState,
    private readonly log: Logger,
  ) {}

  /** Sends an ack with the reports of this turn; one for a stream that is gone is dropped. */
  ack(msg: AgentMessage): void {
    if (this.to.stream) this.enqueue(msg);
  }

  /**
   * Sends an instance report, or keeps it while disconnected: kept reports follow the next
   * hello in order (the control plane treats those its catch-up already covers as superseded).
   */
  report(msg: AgentMessage): void {
    if (this.to.syncedStream) this.enqueue(msg);
    else this.keep(msg);
  }

  /** Writes a message at once, after what the outbox holds (order is kept). */
  sendNow(msg: AgentMessage): void {
    this.flush();
    this.to.stream?.write(msg);
  }

  /** Writes what was kept while disconnected to a stream that has just carried its hello. */
  sendKept(stream: Stream): void {
    const kept = this.backlog.splice(0);
    for (let i = 0; i < kept.length; i += MAX_BATCH) stream.write(batch(kept.slice(i, i + MAX_BATCH)));
  }

  /** Sends what the outbox holds as one message; reports and checks of a stream that went away are kept. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const messages = this.pending;
    this.pending = [];
    const stream = this.to.syncedStream;
    if (stream) {
      stream.write(batch(messages));
      return;
    }
    for (const m of messages) if (m.payload?.$case !== "ack") this.keep(m);
  }

  private enqueue(msg: AgentMessage): void {
    this.pending.push(msg);
    if (this.pending.length >= MAX_BATCH) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private keep(msg: AgentMessage): void {
    this.backlog.push(msg);
    if (this.backlog.length > MAX_BACKLOG) {
      this.backlog.shift();
      this.log.warn("report backlog full; dropped the oldest (the next hello carries every current state)", { kept: MAX_BACKLOG });
    }
  }
}
