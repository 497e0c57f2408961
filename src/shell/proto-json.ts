/**
 * Proto3 JSON as Tessera reads it, against the descriptor set embedded in the binary: strictly
 * by @bufbuild/protobuf (unknown fields and wrong types refused with the field's name), with
 * enum values also taken short (on_failure for RESTART_MODE_ON_FAILURE) and durations in Go's
 * form (1m30s, 500ms; proto3's 90s too). One reader for `tessera ctl` and the HTTP API, so
 * both refuse the same input with the same words.
 */
import { readFileSync } from "node:fs";
import { createFileRegistry, type DescEnum, type DescField, type DescMessage, fromBinary, fromJson, type JsonObject, type JsonValue, toBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import descriptorPath from "../gen/tessera.binpb" with { type: "file" };
import { DURATION_EXPECTED, parseDurationMs } from "../core/model/duration.js";

let registry: ReturnType<typeof createFileRegistry> | undefined;

/** Every message, enum, service and extension of the embedded descriptor set (read once). */
export function protoRegistry(): ReturnType<typeof createFileRegistry> {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath)));
  return registry;
}

export function protoSchema(typeName: string): DescMessage {
  const registry = protoRegistry();
  const s = registry.getMessage(typeName);
  if (!s) throw new Error(`${typeName} is not in the embedded descriptor set`);
  return s;
}

/**
 * An enum value as people write it: the proto name (RESTART_MODE_ON_FAILURE) or, as kubectl
 * and Nomad users expect, the name without the enum's shared prefix (on_failure), in any case.
 * Read back as the proto name, so everything after the reader (and every output) has one spelling.
 */
function protoEnumName(e: DescEnum, value: JsonValue, field: DescField): JsonValue {
  if (typeof value !== "string" || e.values.some((v) => v.name === value)) return value;
  const short = (name: string) => name.slice(e.sharedPrefix?.length ?? 0).toLowerCase();
  const wanted = value.toLowerCase();
  const match = e.values.find((v) => v.name.toLowerCase() === wanted || short(v.name) === wanted);
  if (match) return match.name;
  // The strict reader would only name the enum type; say which field, and what it takes.
  const named = e.values.filter((v) => v.number !== 0);
  throw new Error(`${field.parent.typeName}.${field.name}: expected ${named.map((v) => short(v.name)).join(", ")} (or ${named.map((v) => v.name).join(", ")}), got "${value}"`);
}

/**
 * A google.protobuf.Duration as people write it, in proto3 JSON's form ("60s", "0.5s"): Go's
 * form as every duration flag takes it ("1m30s", "500ms", "2h"), or a bare number of seconds.
 * The strict reader would refuse all but "60s", naming google.protobuf.Duration; a bad one is
 * refused here naming the field (`path`) and the forms it takes.
 */
function protoDuration(value: JsonValue, path: string): JsonValue {
  if (typeof value === "string" && /^-?\d+(?:\.\d{1,9})?s$/.test(value)) return value;
  const ms = typeof value === "number" ? (Number.isFinite(value) && value >= 0 ? Math.round(value * 1_000) : undefined) : typeof value === "string" ? parseDurationMs(value) : undefined;
  if (ms === undefined) throw new Error(`${path}: expected ${DURATION_EXPECTED}, got ${JSON.stringify(value)}`);
  return `${ms / 1_000}s`;
}

/** `value` of `field`, at `path` (as written: spec.update.minHealthyTime), in the form the strict reader takes. */
function withProtoForms(field: DescField, value: JsonValue, path: string): JsonValue {
  switch (field.fieldKind) {
    case "enum":
      return protoEnumName(field.enum, value, field);
    case "message":
      return withProtoFormsIn(field.message, value, path);
    case "list":
      if (!Array.isArray(value) || field.listKind === "scalar") return value;
      return field.listKind === "enum" ? value.map((v) => protoEnumName(field.enum, v, field)) : value.map((v, i) => withProtoFormsIn(field.message, v, `${path}[${i}]`));
    case "map": {
      if (typeof value !== "object" || value === null || Array.isArray(value) || field.mapKind === "scalar") return value;
      const of = (v: JsonValue, k: string) => (field.mapKind === "enum" ? protoEnumName(field.enum, v, field) : withProtoFormsIn(field.message, v, `${path}.${k}`));
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, of(v, k)]));
    }
    default:
      return value;
  }
}

/**
 * `json` with every enum value in its proto name and every duration in proto3's form; anything
 * malformed is left for the strict reader to refuse.
 */
function withProtoFormsIn(message: DescMessage, json: JsonValue, path = ""): JsonValue {
  if (message.typeName === "google.protobuf.Duration") return protoDuration(json, path);
  // Other well-known types have JSON forms of their own (Struct is free-form): not fields to walk.
  if (message.typeName.startsWith("google.protobuf.") || typeof json !== "object" || json === null || Array.isArray(json)) return json;
  const out: JsonObject = { ...json };
  for (const field of message.fields) {
    for (const key of new Set([field.jsonName, field.name])) if (key in out) out[key] = withProtoForms(field, out[key]!, path ? `${path}.${key}` : key);
  }
  return out;
}

/** The binary encoding of `json` read as a `typeName` (e.g. tessera.v1.Workload); throws what is wrong. */
export function readProtoJson(typeName: string, json: JsonValue): Uint8Array {
  const s = protoSchema(typeName);
  return toBinary(s, fromJson(s, withProtoFormsIn(s, json)));
}

/** What readProtoJson's error says, without the reader's preamble: the field and what is wrong. */
export function protoJsonProblem(err: unknown): string {
  return String((err as Error)?.message ?? err).replace(/^cannot decode (?:message|field) (\S+) from JSON: /, "$1: ");
}

/** The proto3 JSON of a message encoded as `typeName`. */
export function toProtoJson(typeName: string, bytes: Uint8Array): JsonValue {
  const s = protoSchema(typeName);
  return toJson(s, fromBinary(s, bytes));
}
