/**
 * What every ControlPlane handler does around its body: check the caller's token, refuse a
 * request whose bytes did not decode, log and measure the call, and map refusals to gRPC
 * status codes. The service's handlers live in more than one file; they share this.
 */
import { type Metadata, type sendUnaryData, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, status } from "@grpc/grpc-js";
import { authorize, type ControlPlaneMethod, type Role } from "../../core/access/authz.js";
import type { Logger } from "../../shell/logger.js";
import { type Cursor, isRejection, type PageRequest, readCursor } from "../../core/views/paging.js";
import type { Rejection } from "../../core/model/rejections.js";
import { StoreUnreachable } from "../store/store.js";
import { rejectionError } from "./rejection-codes.js";
import { bearer } from "../security/enrollment.js";
import { fingerprint, hashToken } from "../security/tokens.js";
import type { StreamLimits } from "../writer/stream-limits.js";
import type { TokenStreams } from "../writer/token-streams.js";
import { undecodable } from "./undecodable.js";

/** Bytes queued for a slow streaming client before it is cut off (it can resume). */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** What a queued message costs in memory besides its bytes (measured: ~3× the text of 100-byte log lines). */
const MESSAGE_OVERHEAD = 200;

/**
 * Writes to a streaming call while what it has written and the connection has not yet taken
 * stays under MAX_QUEUED_BYTES (grpc-js's writableLength counts messages, not bytes, and a
 * client that stops reading lets them pile up in memory). Answers false, writing nothing, once
 * a message would go past it: the caller ends the call RESOURCE_EXHAUSTED. `size` is the
 * message's encoded size, or near it; each queued message costs MESSAGE_OVERHEAD more (the
 * object, its place in the queue, its callback), so that many short log lines count for what
 * they hold in memory.
 */
export function boundedWriter<T>(call: { write(msg: T, done: () => void): unknown }, limit = MAX_QUEUED_BYTES): (msg: T, size: number) => boolean {
  let queued = 0;
  return (msg, size) => {
    const bytes = size + MESSAGE_OVERHEAD;
    if (queued + bytes > limit) return false;
    queued += bytes;
    call.write(msg, () => {
      queued -= bytes;
    });
    return true;
  };
}

export type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;
/** The role a call's credentials carry, or undefined when it has none that are valid. */
export type Authenticate = (metadata: Metadata) => Role | undefined;
export type RpcError = { code: status; details: string };

export function invalid(field: string, expected: string): RpcError {
  return { code: status.INVALID_ARGUMENT, details: `${field}: expected ${expected}` };
}

export function refused(r: Rejection): RpcError {
  return rejectionError(r);
}

/** The request, or an INVALID_ARGUMENT when its bytes did not decode. */
function decoded<Req>(request: Req): Req {
  const bad = undecodable(request);
  if (bad !== undefined) throw invalid("request", `a valid protobuf message (${bad})`);
  return request;
}

/** Where the requested page starts, or INVALID_ARGUMENT naming page_size or page_token. */
export function cursorOf(req: PageRequest, scope: string): Cursor {
  const cursor = readCursor(req, scope);
  if (isRejection(cursor)) throw refused(cursor);
  return cursor;
}

/** Who made a call, as history shows it: the fingerprint of the token it presented. */
export function caller(metadata: Metadata): string {
  const token = bearer(metadata);
  return token === undefined ? "a call without a token" : `the holder of token ${fingerprint(token)}`;
}

export interface RpcDeps {
  log: Logger;
  authenticate: Authenticate;
  /** Hears every finished call (for metrics). */
  observeRpc?: (method: string, code: string, seconds: number) => void;
  /** Streams open per token (shared with the web page's); none: not counted. */
  streams?: StreamLimits;
  /** Ends streams whose token stops working; absent when security is off. */
  tokenStreams?: TokenStreams;
}

export interface Rpc {
  /** Wraps a unary handler: logs method, status and duration; a store out of reach is UNAVAILABLE, other surprises INTERNAL. */
  unary<Req, Res>(method: ControlPlaneMethod, body: (req: Req, metadata: Metadata) => Promise<Res> | Res): Handler<Req, Res>;
  /**
   * Checks a streaming call's token and request: true when the handler may go on; otherwise the
   * call has been ended with the refusal.
   */
  opened(call: ServerWritableStream<unknown, unknown>, method: ControlPlaneMethod, started: number, message: string): boolean;
  /** Checks a bidirectional call's token (its requests are checked as they come): as `opened`. */
  admitted(call: ServerDuplexStream<unknown, unknown>, method: ControlPlaneMethod, started: number): boolean;
  /** Logs and measures a finished call. */
  finish(method: string, started: number, code: status, details?: string): void;
  /** Ends a streaming call with an error. */
  endWith(call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, method: string, started: number, err: RpcError): void;
}

export function createRpc(deps: RpcDeps): Rpc {
  const finish = (method: string, started: number, code: status, details?: string) => {
    const seconds = (performance.now() - started) / 1000;
    deps.observeRpc?.(method, status[code], seconds);
    const fields = { method, code: status[code], ms: +(seconds * 1000).toFixed(2), ...(details ? { details } : {}) };
    if (code === status.INTERNAL || code === status.UNKNOWN) deps.log.error("rpc", fields);
    else deps.log.info("rpc", fields);
  };

  const endWith = (call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, method: string, started: number, err: RpcError) => {
    finish(method, started, err.code, err.details);
    call.emit("error", { code: err.code, details: err.details });
  };

  const admitted = (call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, method: ControlPlaneMethod, started: number) => {
    const denied = authorize(deps.authenticate(call.metadata), method);
    if (denied) {
      endWith(call, method, started, refused(denied));
      return false;
    }
    const token = bearer(call.metadata);
    if (deps.streams) {
      const release = deps.streams.take(token === undefined ? "a call without a token" : hashToken(token));
      if (!release) {
        endWith(call, method, started, { code: status.RESOURCE_EXHAUSTED, details: `too many open streams for this token (at most ${deps.streams.perKey}); close some` });
        return false;
      }
      for (const end of ["finish", "close", "cancelled", "error"]) call.once(end, release);
    }
    if (token !== undefined) deps.tokenStreams?.track(call, method, token);
    return true;
  };

  return {
    finish,
    endWith,
    unary: (method, body) => (call, callback) => {
      const started = performance.now();
      Promise.resolve()
        .then(() => {
          const denied = authorize(deps.authenticate(call.metadata), method);
          if (denied) throw refused(denied);
          return body(decoded(call.request), call.metadata);
        })
        .then(
          (res) => {
            finish(method, started, status.OK);
            callback(null, res);
          },
          (err: Partial<RpcError>) => {
            const known = typeof err?.code === "number";
            // A store out of reach is a condition to retry, named, not a fault of this process.
            const code = known ? err.code! : err instanceof StoreUnreachable ? status.UNAVAILABLE : status.INTERNAL;
            const details = known ? err.details! : err instanceof StoreUnreachable ? err.message : `internal error: ${String(err)}`;
            finish(method, started, code, details);
            callback({ code, details });
          },
        );
    },
    admitted,
    opened(call, method, started, message) {
      if (!admitted(call, method, started)) return false;
      const bad = undecodable(call.request);
      if (bad !== undefined) {
        endWith(call, method, started, invalid("request", `a ${message} (${bad})`));
        return false;
      }
      return true;
    },
  };
}
