/**
 * Build step (not part of the binary): writes the OpenAPI 3 document of the HTTP/JSON API from
 * the proto, as `make proto` runs it after `buf build`: one operation per google.api.http
 * route (http-routes.ts reads them from the descriptor set, as the server does), the request
 * and response messages as schemas of their proto3 JSON form, errors as google.rpc.Status,
 * and the proto's comments as descriptions; and the event stream, which no route declares. The control plane serves it at /v1/openapi.json.
 *
 *   bun cli/gen-openapi.ts src/gen/openapi.json
 */
import { writeFileSync } from "node:fs";
import { type DescEnum, type DescField, type DescFile, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { fieldAt, type HttpRoute, httpRoutes } from "../src/control/http/http-routes.js";
import { TOPICS } from "../src/core/events/event-stream.js";
import { protoRegistry } from "../src/shell/proto-json.js";

type Schema = Record<string, unknown>;
const schemas: Record<string, Schema> = {};
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The leading comment of a descriptor at `path` in its file's source info, as one paragraph of text. */
function comment(file: DescFile, path: number[]): string | undefined {
  const at = file.proto.sourceCodeInfo?.location.find((l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]));
  const text = at?.leadingComments.trim();
  return text ? text.replace(/\s*\n\s*/g, " ") : undefined;
}

/** The path of a message in its file's source info: message_type = 4, nested_type = 3. */
function messagePath(m: DescMessage): number[] {
  if (!m.parent) return [4, m.file.messages.indexOf(m)];
  return [...messagePath(m.parent), 3, m.parent.nestedMessages.indexOf(m)];
}

/** proto3 JSON's forms of the well-known types Tessera uses. */
const WELL_KNOWN: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", description: 'Seconds with an "s" suffix, e.g. "90s" (Tessera also reads Go\'s form, "1m30s").' },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.Empty": { type: "object" },
};

function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int32" };
    default:
      // 64-bit integers are strings in proto3 JSON (numbers are read too).
      return { type: "string", format: "int64" };
  }
}

const enumSchema = (e: DescEnum): Schema => ({ type: "string", enum: e.values.map((v) => v.name) });

function messageRef(m: DescMessage): Schema {
  if (WELL_KNOWN[m.typeName]) return WELL_KNOWN[m.typeName]!;
  if (!schemas[m.typeName]) {
    schemas[m.typeName] = {}; // recursion guard; filled below
    const path = messagePath(m);
    const properties = Object.fromEntries(m.fields.map((f) => [f.jsonName, { ...fieldSchema(f), ...describe(comment(m.file, [...path, 2, m.fields.indexOf(f)])) }]));
    schemas[m.typeName] = { type: "object", ...describe(comment(m.file, path)), properties };
  }
  return ref(m.typeName);
}

const describe = (text: string | undefined) => (text ? { description: text } : {});

function valueSchema(f: DescField): Schema {
  if (f.message) return messageRef(f.message);
  if (f.enum) return enumSchema(f.enum);
  return scalarSchema(f.scalar!);
}

function fieldSchema(f: DescField): Schema {
  if (f.fieldKind === "list") return { type: "array", items: valueSchema(f) };
  if (f.fieldKind === "map") return { type: "object", additionalProperties: valueSchema(f) };
  return valueSchema(f);
}

/**
 * A route's path as OpenAPI writes it: a variable is named by its last field, so that
 * /v1/workloads/{workload.name} (PUT) and /v1/workloads/{name} (GET) are one path, as OpenAPI
 * requires of templates that match the same URLs.
 */
const openApiPath = (route: HttpRoute) => `/${route.segments.map((s) => ("literal" in s ? s.literal : `{${s.field.at(-1)}}`)).join("/")}${route.verb ? `:${route.verb}` : ""}`;

/** One route as an OpenAPI operation. */
function operation(route: HttpRoute, n: number): Schema {
  const m = route.rpc;
  const inPath = route.segments.flatMap((s) => ("field" in s ? [s.field] : []));
  const pathParams = inPath.map((p) => ({ name: p.at(-1)!, in: "path", required: true, schema: { type: "string" }, description: `The request's ${p.join(".")}.` }));
  const queried = route.body === "*" ? [] : m.input.fields.filter((f) => f.name !== route.body && !inPath.some((p) => p[0] === f.name) && f.fieldKind !== "message" && f.fieldKind !== "map");
  const queryParams = queried.map((f) => ({ name: f.name, in: "query", required: false, schema: fieldSchema(f), ...describe(comment(m.input.file, [...messagePath(m.input), 2, m.input.fields.indexOf(f)])) }));
  const bodyField = route.body !== "" && route.body !== "*" ? fieldAt(m.input, [route.body]) : undefined;
  const body = route.body === "" ? undefined : bodyField ? fieldSchema(bodyField) : messageRef(m.input);
  const service = m.parent;
  return {
    operationId: n === 0 ? m.name : `${m.name}${n + 1}`,
    tags: [service.name],
    summary: m.name,
    ...describe(comment(service.file, [6, service.file.services.indexOf(service), 2, service.methods.indexOf(m)])),
    parameters: [...pathParams, ...queryParams],
    ...(body ? { requestBody: { required: route.body !== "*", content: { "application/json": { schema: body } } } } : {}),
    responses: {
      "200": { description: `A ${m.output.typeName}.`, content: { "application/json": { schema: messageRef(m.output) } } },
      default: { description: "A refusal or failure: google.rpc.Status with its gRPC code.", content: { "application/json": { schema: ref("google.rpc.Status") } } },
    },
  };
}

/** GET /v1/events/stream (src/control/http/event-stream.ts): the Watch RPC's events as NDJSON or SSE; not a google.api.http route, since it filters and resumes as Nomad's stream does. */
function eventStream(): Schema {
  const event = messageRef(protoRegistry().getMessage("tessera.v1.Event")!);
  return {
    operationId: "StreamEvents",
    tags: ["ControlPlane"],
    summary: "StreamEvents",
    description:
      "Committed events as newline-delimited JSON (one tessera.v1.Event per line; `{}` is a heartbeat while idle), or as Server-Sent Events with Accept: text/event-stream (each event's id is its sequence; Last-Event-ID resumes after it). A failure after the stream began ends it with a line {\"error\": google.rpc.Status}. Counted in the token's limit of open streams.",
    parameters: [
      { name: "from", in: "query", required: false, schema: { type: "integer", minimum: 0 }, description: "The first sequence wanted (0, the default: the oldest retained); resume with the last sequence seen + 1. Older than retention: 400 OUT_OF_RANGE." },
      { name: "topic", in: "query", required: false, schema: { type: "array", items: { type: "string", enum: [...TOPICS] } }, style: "form", explode: true, description: "Only events of these topics." },
      { name: "key", in: "query", required: false, schema: { type: "string" }, description: "Only events whose workload, node or instance id is this." },
    ],
    responses: {
      "200": { description: "The stream.", content: { "application/x-ndjson": { schema: event }, "text/event-stream": { schema: { type: "string" } } } },
      default: { description: "A refusal before the stream began: google.rpc.Status.", content: { "application/json": { schema: ref("google.rpc.Status") } } },
    },
  };
}

export function openApiDocument(version: string): Schema {
  schemas["google.rpc.Status"] = {
    type: "object",
    description: "Why a call failed: its gRPC status code, what is wrong (naming the field), and details (none yet).",
    properties: { code: { type: "integer", format: "int32" }, message: { type: "string" }, details: { type: "array", items: { type: "object" } } },
    required: ["code", "message", "details"],
  };
  const paths: Record<string, Record<string, Schema>> = {};
  const seen = new Map<string, number>();
  for (const route of httpRoutes()) {
    const n = seen.get(route.rpc.name) ?? 0;
    seen.set(route.rpc.name, n + 1);
    (paths[openApiPath(route)] ??= {})[route.method.toLowerCase()] = operation(route, n);
  }
  paths["/v1/events/stream"] = { get: eventStream() };
  return {
    openapi: "3.0.3",
    info: {
      title: "Tessera control plane",
      version,
      description: "The ControlPlane service of proto/tessera/v1/control_plane.proto over HTTP/JSON, generated from its google.api.http options. Every call but this document needs `Authorization: Bearer TOKEN`.",
    },
    paths,
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
  };
}

if (import.meta.main) {
  const out = process.argv[2];
  if (!out) throw new Error("usage: bun cli/gen-openapi.ts OUT.json");
  const { version } = (await import("../package.json")).default as { version: string };
  const doc = openApiDocument(version);
  writeFileSync(out, `${JSON.stringify(doc, null, 1)}\n`);
  console.log(`gen-openapi: ${Object.keys(doc.paths as object).length} paths`);
}
