/**
 * Reads workload manifests: the proto3 JSON form of tessera.v1.Workload, parsed strictly by
 * @bufbuild/protobuf against the descriptor set embedded in the binary (unknown fields and
 * wrong types are refused with the field's name), then handed over as the ts-proto type.
 */
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import descriptorPath from "../src/gen/tessera.binpb" with { type: "file" };
import { Workload } from "../src/gen/tessera/v1/types.js";

/** A problem with the user's input (exit code 2). */
export class InputError extends Error {}

let registry: ReturnType<typeof createFileRegistry> | undefined;

function workloadSchema() {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath)));
  return registry.getMessage("tessera.v1.Workload")!;
}

/** Parses one manifest's text; `source` names it in errors. */
export function parseWorkloadManifest(text: string, source: string): Workload {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new InputError(`${source}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new InputError(`${source}: expected a JSON object (a Workload)`);
  try {
    const schema = workloadSchema();
    return Workload.decode(toBinary(schema, fromJson(schema, json)));
  } catch (err) {
    throw new InputError(`${source}: ${(err as Error).message}`);
  }
}
