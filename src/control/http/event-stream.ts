/**
 * GET /v1/events/stream: the event log as newline-delimited JSON (one proto3 JSON Event per
 * line, its `sequence` included), or Server-Sent Events when the client asks for
 * text/event-stream (each event's id is its sequence, so EventSource resumes by itself).
 *
 *   ?from=SEQ   the first sequence wanted (default 0: the oldest retained); resume with the
 *               last sequence seen + 1. Older than retention: 400 OUT_OF_RANGE naming it.
 *   ?topic=T    only these topics (repeatable: Workload, Rollout, Instance, Node, Token,
 *               ControlPlane); ?key=K only events whose workload, node or instance id is K.
 *
 * It is the Watch RPC: the request goes to the same handler (authorization, the per-token
 * stream limit, retention, the hub), through a call object that writes to the HTTP response;
 * only the topic and key filter are applied here (core/event-stream.ts decides them). While
 * idle it sends a heartbeat (`{}` as Nomad does; an SSE comment); a client that stops reading
 * is cut off past the stream's byte bound (sse.ts) and resumes by sequence. A failure after
 * the stream began ends it with one last line, {"error": google.rpc.Status}.
 */
import { EventEmitter } from "node:events";
import { Metadata, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { matchesEventFilter, parseEventFilter } from "../../core/events/event-stream.js";
import { isRejection } from "../../core/views/paging.js";
import type { WatchResponse } from "../../gen/tessera/v1/control_plane.js";
import { Event as WireEvent } from "../../gen/tessera/v1/types.js";
import { toProtoJson } from "../../shell/proto-json.js";
import { type RpcFailure, statusResponse } from "./http-api.js";
import { rejectionError } from "../grpc/rejection-codes.js";
import { boundedStreamResponse, type ByteStream, SSE_TEXT, sseFrame } from "./sse.js";

export const EVENT_STREAM_PATH = "/v1/events/stream";
const encoder = new TextEncoder();

/** The Watch call as the handler sees it, feeding the HTTP response. */
class HttpWatchCall extends EventEmitter {
  cancelled = false;
  /** Where events go once the response has begun. */
  out: ((r: WatchResponse) => void) | undefined;
  constructor(
    readonly request: { afterSequence: number; workload: string },
    readonly metadata: Metadata,
    private readonly started: () => void,
  ) {
    super();
  }
  getPeer = () => "http";
  sendMetadata = () => this.started();
  write(r: WatchResponse, done?: () => void): boolean {
    this.out?.(r);
    done?.();
    return true;
  }
  end() {}
  /** The HTTP client went away: as grpc-js reports a cancelled call. */
  cancel() {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const e of ["cancelled", "close"]) this.emit(e);
  }
}

/** What `from` and the SSE Last-Event-ID ask for: the sequence to resume after, or a failure naming the field. */
function afterSequence(req: Request, url: URL): number | RpcFailure {
  const lastId = req.headers.get("last-event-id");
  if (lastId !== null) return /^\d{1,15}$/.test(lastId) ? Number(lastId) : { code: status.INVALID_ARGUMENT, details: `Last-Event-ID: expected a sequence number, got "${lastId}"` };
  const from = url.searchParams.get("from");
  if (from === null) return 0;
  if (!/^\d{1,15}$/.test(from)) return { code: status.INVALID_ARGUMENT, details: `from: expected a sequence number (0 or more), got "${from}"` };
  return Math.max(0, Number(from) - 1);
}

function line(r: WatchResponse, sse: boolean): Uint8Array {
  const event = toProtoJson("tessera.v1.Event", WireEvent.encode(r.event!).finish());
  return sse ? sseFrame("event", event, String(r.event!.sequence)) : encoder.encode(`${JSON.stringify(event)}\n`);
}

/** Answers GET /v1/events/stream through the ControlPlane service's Watch handler. */
export async function serveEventStream(handlers: UntypedServiceImplementation, req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (req.method !== "GET") return statusResponse({ code: status.UNIMPLEMENTED, details: `method: expected GET for ${EVENT_STREAM_PATH}, got ${req.method}` });
  const after = afterSequence(req, url);
  if (typeof after !== "number") return statusResponse(after);
  const filter = parseEventFilter(url.searchParams.getAll("topic"), url.searchParams.get("key") ?? undefined);
  if (isRejection(filter)) return statusResponse(rejectionError(filter));
  const sse = (req.headers.get("accept") ?? "").includes("text/event-stream");

  const metadata = new Metadata();
  const authorization = req.headers.get("authorization");
  if (authorization !== null) metadata.set("authorization", authorization);
  let began!: () => void;
  const beginning = new Promise<void>((resolve) => (began = resolve));
  const call = new HttpWatchCall({ afterSequence: after, workload: "" }, metadata, () => began());
  /** Events the handler wrote before the response began. */
  const early: WatchResponse[] = [];
  call.out = (r) => early.push(r);
  let failure: RpcFailure | undefined;
  let failed: ((f: RpcFailure) => void) | undefined;
  call.on("error", (err: RpcFailure) => {
    failure = err;
    failed?.(err);
    began();
  });
  // Cancellation from an aborted request before the response began.
  req.signal.addEventListener("abort", () => call.cancel());
  (handlers.watch as unknown as (c: HttpWatchCall) => void)(call);
  await beginning;
  if (failure && early.length === 0) return statusResponse(failure);

  const streamed = (stream: ByteStream) => {
    const send = (r: WatchResponse) => {
      if (r.event && matchesEventFilter(r.event, filter)) stream.write(line(r, sse));
    };
    for (const r of early) send(r);
    call.out = send;
    failed = (f) => {
      stream.write(sse ? sseFrame("error", { code: f.code, message: f.details, details: [] }) : encoder.encode(`${JSON.stringify({ error: { code: f.code, message: f.details, details: [] } })}\n`));
      stream.close();
    };
    if (failure) failed(failure);
    return () => call.cancel();
  };
  return boundedStreamResponse(sse ? "text/event-stream" : "application/x-ndjson", sse ? SSE_TEXT : { keepalive: "{}\n" }, streamed);
}
