/**
 * The HTTP/JSON API under /v1/: a request is matched against the proto's google.api.http
 * routes (http-routes.ts), read into the RPC's request message by the same proto3 JSON reader
 * as `tessera ctl` (path variables, then the body or the query), and handed, with its
 * Authorization header as the call's metadata, to the very gRPC handler a gRPC client would
 * reach (through the current term, or the standby's reads). Nothing is decided here: the
 * handler authorizes, validates and submits to the writer as for gRPC. Its answer goes back as
 * proto3 JSON; a refusal as google.rpc.Status JSON with the HTTP status google.rpc.Code maps
 * its code to.
 */
import { type JsonObject, type JsonValue, ScalarType } from "@bufbuild/protobuf";
import { Metadata, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import openapi from "../../gen/openapi.json";
import { ControlPlaneService } from "../../gen/tessera/v1/control_plane.js";
import { protoJsonProblem, readProtoJson, toProtoJson } from "../../shell/proto-json.js";
import { fieldAt, type HttpRoute, matchRoute } from "./http-routes.js";
import { HTTP_STATUS } from "../grpc/rejection-codes.js";

export type RpcFailure = { code: status; details: string };

/** A google.rpc.Status answer. */
export function statusResponse(err: RpcFailure, headers: Record<string, string> = {}): Response {
  return Response.json({ code: err.code, message: err.details, details: [] }, { status: HTTP_STATUS[err.code] ?? 500, headers: { "cache-control": "no-store", ...headers } });
}

const invalid = (details: string): RpcFailure => ({ code: status.INVALID_ARGUMENT, details });

type Service = Record<string, { requestDeserialize(b: Buffer): unknown; responseSerialize(m: never): Buffer }>;
const SERVICE = ControlPlaneService as unknown as Service;
const localName = (rpc: string) => rpc.charAt(0).toLowerCase() + rpc.slice(1);

/** Sets `value` at a path of field names in a JSON object (path variables, query parameters). */
function setAt(json: JsonObject, path: readonly string[], value: JsonValue) {
  let at = json;
  for (const name of path.slice(0, -1)) {
    const next = at[name];
    at = at[name] = typeof next === "object" && next !== null && !Array.isArray(next) ? next : {};
  }
  at[path.at(-1)!] = value;
}

/** The value at a path of field names (by proto or JSON name), if the request gives one. */
function valueAt(json: JsonObject, path: readonly string[], route: HttpRoute): JsonValue | undefined {
  let at: JsonValue | undefined = json;
  for (const [i, name] of path.entries()) {
    if (typeof at !== "object" || at === null || Array.isArray(at)) return undefined;
    const jsonName = fieldAt(route.rpc.input, path.slice(0, i + 1))?.jsonName ?? name;
    at = at[name] ?? at[jsonName];
  }
  return at;
}

/** The query's parameters as fields of the request (by proto or JSON name); an unknown one is refused naming it. */
function fromQuery(route: HttpRoute, query: URLSearchParams, json: JsonObject) {
  for (const key of new Set(query.keys())) {
    const path = key.split(".");
    const field = fieldAt(route.rpc.input, path) ?? route.rpc.input.fields.find((f) => f.jsonName === key);
    if (!field || field.fieldKind === "message" || field.fieldKind === "map") {
      throw invalid(`${key}: no such query parameter of ${route.rpc.input.typeName} (expected one of ${route.rpc.input.fields.map((f) => f.name).join(", ")})`);
    }
    const values = query.getAll(key);
    const scalar = (v: string): JsonValue => (field.fieldKind === "scalar" && field.scalar === ScalarType.BOOL ? (v === "true" ? true : v === "false" ? false : v) : v);
    setAt(json, field === fieldAt(route.rpc.input, path) ? path : [field.name], field.fieldKind === "list" ? values.map(scalar) : scalar(values.at(-1)!));
  }
}

/** The request message's proto3 JSON: the body (as the route says), then the query, then the path's variables. */
async function requestJson(route: HttpRoute, params: Array<{ field: string[]; value: string }>, req: Request): Promise<JsonObject> {
  let json: JsonObject = {};
  if (route.body !== "") {
    const text = await req.text();
    let body: JsonValue = {};
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text) as JsonValue;
      } catch (err) {
        throw invalid(`body: expected JSON, ${(err as Error).message}`);
      }
    }
    if (route.body === "*") {
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid(`body: expected a JSON object (a ${route.rpc.input.typeName})`);
      json = body;
    } else if (text.trim() !== "") json[route.body] = body;
  }
  fromQuery(route, new URL(req.url).searchParams, json);
  for (const p of params) {
    // A body naming another workload than its path would apply one under the other's name.
    const given = valueAt(json, p.field, route);
    if (given !== undefined && given !== p.value) throw invalid(`${p.field.join(".")}: the path says "${p.value}", the request ${JSON.stringify(given)}`);
    setAt(json, p.field, p.value);
  }
  return json;
}

/** Calls the gRPC handler of `rpc` with a request and the caller's Authorization; resolves with the response or the failure. */
function callHandler(handlers: UntypedServiceImplementation, rpc: string, request: unknown, authorization: string | null): Promise<unknown> {
  const metadata = new Metadata();
  if (authorization !== null) metadata.set("authorization", authorization);
  const handler = handlers[localName(rpc)] as unknown as (call: unknown, cb: (err: RpcFailure | null, res?: unknown) => void) => void;
  return new Promise((resolve, reject) => handler({ request, metadata, getPeer: () => "http", cancelled: false }, (err, res) => (err ? reject(err) : resolve(res))));
}

/** The OpenAPI document, generated from the proto at build time (cli/gen-openapi.ts); as public as gRPC reflection. */
const OPENAPI_PATH = "/v1/openapi.json";
let openapiText: string | undefined;

/** Answers a request under /v1/ from `handlers` (the ControlPlane service as the gRPC server serves it). */
export async function serveHttpApi(handlers: UntypedServiceImplementation, req: Request): Promise<Response> {
  const { pathname } = new URL(req.url);
  if (pathname === OPENAPI_PATH && (req.method === "GET" || req.method === "HEAD")) {
    openapiText ??= JSON.stringify(openapi);
    return new Response(openapiText, { headers: { "content-type": "application/json", "cache-control": "no-cache" } });
  }
  const found = matchRoute(req.method, pathname);
  if (!found) return statusResponse({ code: status.NOT_FOUND, details: `path: no ${pathname} in the API (see /v1/openapi.json)` });
  if ("allow" in found) {
    // UNIMPLEMENTED, answered 405 as grpc-gateway does, with the methods the path takes.
    const res = statusResponse({ code: status.UNIMPLEMENTED, details: `method: expected ${found.allow.join(", ")} for ${pathname}, got ${req.method}` }, { allow: found.allow.join(", ") });
    return new Response(res.body, { status: 405, headers: res.headers });
  }
  const { route, params } = found;
  try {
    let bytes: Uint8Array;
    const json = await requestJson(route, params, req);
    try {
      bytes = readProtoJson(route.rpc.input.typeName, json);
    } catch (err) {
      throw invalid(protoJsonProblem(err));
    }
    const request = SERVICE[localName(route.rpc.name)]!.requestDeserialize(Buffer.from(bytes));
    const response = await callHandler(handlers, route.rpc.name, request, req.headers.get("authorization"));
    const out = toProtoJson(route.rpc.output.typeName, SERVICE[localName(route.rpc.name)]!.responseSerialize(response as never));
    return Response.json(out, { headers: { "cache-control": "no-store" } });
  } catch (err) {
    const known = typeof (err as RpcFailure)?.code === "number";
    return statusResponse(known ? (err as RpcFailure) : { code: status.INTERNAL, details: `internal error: ${String(err)}` });
  }
}
