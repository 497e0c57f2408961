/**
 * A REST client derived from the proto alone: a request message becomes the HTTP request its
 * google.api.http route declares (path variables from its fields, the body the route names,
 * every other field in the query), as grpc-gateway's clients build it.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ControlPlaneService } from "../../src/gen/tessera/v1/control_plane.js";
import { fieldAt, type HttpRoute, httpRoutes } from "../../src/control/http/http-routes.js";
import { toProtoJson } from "../../src/shell/proto-json.js";
import type { ControlPlaneMethod } from "../../src/core/access/authz.js";
import { MINIMAL_REQUESTS } from "./authz-calls.js";

type Service = Record<string, { requestSerialize(m: never): Buffer }>;

/** The first route of an RPC, or undefined when it has none. */
export const routeOf = (rpc: string): HttpRoute | undefined => httpRoutes().find((r) => r.rpc.name === rpc);

/** The path (with query) and body of `request` sent to `route`. */
export function restOf(route: HttpRoute, request: unknown): { path: string; body: string | undefined } {
  const serialize = (ControlPlaneService as unknown as Service)[route.rpc.name.charAt(0).toLowerCase() + route.rpc.name.slice(1)]!.requestSerialize;
  const json = toProtoJson(route.rpc.input.typeName, serialize(request as never)) as JsonObject;
  /** Takes the field at a path of proto names out of `json`. */
  const take = (path: readonly string[]): JsonValue | undefined => {
    let at: JsonObject = json;
    for (const [i, name] of path.entries()) {
      const key = fieldAt(route.rpc.input, path.slice(0, i + 1))!.jsonName;
      if (i === path.length - 1) {
        const v = at[key];
        delete at[key];
        return v;
      }
      at = (at[key] ?? {}) as JsonObject;
    }
    return undefined;
  };
  const segments = route.segments.map((s) => ("literal" in s ? s.literal : encodeURIComponent(String(take(s.field) ?? ""))));
  let body: string | undefined;
  if (route.body === "*") body = JSON.stringify(json);
  else if (route.body !== "") body = JSON.stringify(take([route.body]) ?? null);
  const query = new URLSearchParams();
  if (route.body !== "*") {
    for (const [k, v] of Object.entries(json)) for (const one of Array.isArray(v) ? v : [v]) query.append(k, typeof one === "object" ? JSON.stringify(one) : String(one));
  }
  const q = query.toString();
  return { path: `/${segments.join("/")}${route.verb ? `:${route.verb}` : ""}${q ? `?${q}` : ""}`, body };
}

/** Calls `method` over HTTP with its minimal request (or `request`); resolves with the answer's status and JSON. */
export async function invokeHttp(base: string, token: string | undefined, method: ControlPlaneMethod, request: unknown = MINIMAL_REQUESTS[method]): Promise<{ status: number; json: JsonObject }> {
  const route = routeOf(method);
  if (!route) throw new Error(`${method} has no HTTP route`);
  const { path, body } = restOf(route, request);
  const headers: Record<string, string> = { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
  const res = await fetch(`${base}${path}`, { method: route.method, headers, body });
  return { status: res.status, json: (await res.json()) as JsonObject };
}
