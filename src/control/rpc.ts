/**
 * What every ControlPlane handler does around its body: check the caller's token, refuse a
 * request whose bytes did not decode, log and measure the call, and map refusals to gRPC
 * status codes. The service's handlers live in more than one file; they share this.
 */
import { type Metadata, type sendUnaryData, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, status } from "@grpc/grpc-js";
import { authorize, type ControlPlaneMethod, type Role } from "../core/authz.js";
import type { Logger } from "../core/logger.js";
import { type Cursor, isRejection, type PageRequest, readCursor } from "../core/paging.js";
import type { Rejection } from "../core/rejections.js";
import { rejectionError } from "./rejection-codes.js";
import { bearer } from "./security/enrollment.js";
import { fingerprint } from "./security/tokens.js";
import type { TokenStreams } from "./token-streams.js";
import { undecodable } from "./undecodable.js";

/** Bytes queued for a slow streaming client before it is cut off (it can resume). */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

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
  /** Ends streams whose token stops working; absent when security is off. */
  streams?: TokenStreams;
}

export interface Rpc {
  /** Wraps a unary handler: logs method, status and duration; turns surprises into INTERNAL. */
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
    if (denied) endWith(call, method, started, refused(denied));
    const token = bearer(call.metadata);
    if (!denied && token !== undefined) deps.streams?.track(call, method, token);
    return denied === undefined;
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
            const code = known ? err.code! : status.INTERNAL;
            const details = known ? err.details! : `internal error: ${String(err)}`;
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
