/**
 * The HTTP/JSON API's route table, read from the `google.api.http` options of the ControlPlane
 * service in the embedded descriptor set: the proto declares each path once, and this listener,
 * grpc-gateway, Envoy's transcoder and the OpenAPI document all read it from there.
 *
 * Templates as Tessera's proto uses them: literal segments, `{field}` or `{message.field}`
 * variables matching one segment, and an optional `:verb` after the last segment (AIP-136).
 */
import { type DescMessage, type DescMethod, getOption, hasOption } from "@bufbuild/protobuf";
import { protoRegistry } from "../../shell/proto-json.js";

export type Segment = { literal: string } | { field: string[] };

export interface HttpRoute {
  /** GET, PUT, POST, DELETE or PATCH. */
  method: string;
  /** The template as the proto writes it, e.g. /v1/workloads/{name}:rollback. */
  template: string;
  segments: Segment[];
  verb?: string;
  /** "*": the body is the whole request; a field name: the body is that field; "": no body. */
  body: string;
  rpc: DescMethod;
}

/** google.api.HttpRule as the generic reader hands it over. */
interface HttpRule {
  pattern: { case: "get" | "put" | "post" | "delete" | "patch" | "custom" | undefined; value: unknown };
  body: string;
  additionalBindings: HttpRule[];
}

const SERVICE = "tessera.v1.ControlPlane";

function parseTemplate(template: string, rpc: string): Pick<HttpRoute, "segments" | "verb"> {
  const colon = template.lastIndexOf(":");
  const verb = colon > template.lastIndexOf("}") && colon > template.lastIndexOf("/") ? template.slice(colon + 1) : undefined;
  const path = verb === undefined ? template : template.slice(0, colon);
  if (!path.startsWith("/")) throw new Error(`${rpc}: google.api.http path must start with /, got "${template}"`);
  const segments = path
    .slice(1)
    .split("/")
    .map((s): Segment => {
      const variable = /^\{([a-z_][a-z0-9_.]*)\}$/.exec(s);
      if (variable) return { field: variable[1]!.split(".") };
      if (/[{}*]/.test(s) || s === "") throw new Error(`${rpc}: unsupported segment "${s}" in "${template}" (literals and {field} only)`);
      return { literal: s };
    });
  return { segments, verb };
}

function routesOf(rpc: DescMethod, rule: HttpRule): HttpRoute[] {
  const { case: kind, value } = rule.pattern;
  if (kind === undefined || kind === "custom") throw new Error(`${rpc.name}: google.api.http needs get, put, post, delete or patch`);
  const template = value as string;
  const own: HttpRoute = { method: kind.toUpperCase(), template, ...parseTemplate(template, rpc.name), body: rule.body, rpc };
  return [own, ...rule.additionalBindings.flatMap((b) => routesOf(rpc, b))];
}

let table: HttpRoute[] | undefined;

/** Every route of the ControlPlane service, in the proto's order. */
export function httpRoutes(): HttpRoute[] {
  if (table) return table;
  const registry = protoRegistry();
  const service = registry.getService(SERVICE);
  const http = registry.getExtension("google.api.http");
  if (!service || !http) throw new Error(`${SERVICE} or google.api.http is not in the embedded descriptor set`);
  table = service.methods.flatMap((m) => (hasOption(m, http) ? routesOf(m, getOption(m, http) as unknown as HttpRule) : []));
  return table;
}

/** The field a path of names reaches in `message`, e.g. ["workload", "name"]. */
export function fieldAt(message: DescMessage, path: readonly string[]) {
  let at: DescMessage | undefined = message;
  let field;
  for (const name of path) {
    field = at?.fields.find((f) => f.name === name);
    if (!field) return undefined;
    at = field.message;
  }
  return field;
}

export type Match = { route: HttpRoute; params: Array<{ field: string[]; value: string }> } | { allow: string[] } | undefined;

/** The route for a method and path, with its variables' values; else the methods the path answers (405), or undefined (404). */
export function matchRoute(method: string, pathname: string): Match {
  const allow: string[] = [];
  for (const route of httpRoutes()) {
    const params = matchPath(route, pathname);
    if (!params) continue;
    if (route.method === method || (method === "HEAD" && route.method === "GET")) return { route, params };
    allow.push(route.method);
  }
  return allow.length > 0 ? { allow } : undefined;
}

function matchPath(route: HttpRoute, pathname: string): Array<{ field: string[]; value: string }> | undefined {
  let path = pathname;
  if (route.verb !== undefined) {
    if (!path.endsWith(`:${route.verb}`)) return undefined;
    path = path.slice(0, -route.verb.length - 1);
  }
  const parts = path.slice(1).split("/");
  if (parts.length !== route.segments.length) return undefined;
  const params = [];
  for (const [i, s] of route.segments.entries()) {
    const part = parts[i]!;
    if ("literal" in s) {
      if (part !== s.literal) return undefined;
      continue;
    }
    if (part === "") return undefined;
    let value: string;
    try {
      value = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    params.push({ field: s.field, value });
  }
  return params;
}
