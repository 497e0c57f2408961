/**
 * Manifests in, proto3 JSON out.
 *
 * A manifest holds workloads in the proto3 JSON form of tessera.v1.Workload, as JSON (one
 * object or an array) or YAML (one document, several `---` documents, or a list). They are
 * parsed strictly by @bufbuild/protobuf against the descriptor set embedded in the binary
 * (unknown fields and wrong types are refused with the field's name), then handed over as
 * the ts-proto type. Enum values may also be given short (on_failure for RESTART_MODE_ON_FAILURE),
 * and durations in Go's form as flags take them (1m30s, 500ms; proto3's 90s too).
 * The same registry renders responses as proto3 JSON for `-o json|yaml`,
 * so scripts see the shape other-language clients see.
 *
 * Every manifest of one apply goes in one request, so more bytes than a request may hold are
 * refused before anything is read whole (a 50 MB file would otherwise be parsed for nothing).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import type { JsonValue } from "@bufbuild/protobuf";
import { MAX_MESSAGE_BYTES } from "../src/core/views/paging.js";
import { Workload } from "../src/gen/tessera/v1/types.js";
import { protoJsonProblem, readProtoJson } from "../src/shell/proto-json.js";
import { InputError } from "./errors.js";
import { jsonSyntaxProblem, yamlSyntaxProblem } from "./syntax-errors.js";

/** One workload from its proto3 JSON; `source` names it in errors. */
export function parseWorkload(json: unknown, source: string): Workload {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new InputError(`${source}: expected an object (a Workload)`);
  try {
    return Workload.decode(readProtoJson("tessera.v1.Workload", json as JsonValue));
  } catch (err) {
    throw new InputError(`${source}: ${protoJsonProblem(err)}`);
  }
}

type Format = "json" | "yaml" | "guess";

/**
 * The value of a JSON or YAML text; "guess" takes it for JSON when it starts with { or [. A
 * syntax error is refused with its line and column.
 */
export function parseDocument(text: string, source: string, format: Format): unknown {
  const tryJson = format === "json" || (format === "guess" && /^\s*[[{]/.test(text));
  try {
    return tryJson ? JSON.parse(text) : Bun.YAML.parse(text);
  } catch (err) {
    const kind = tryJson ? "JSON" : "YAML";
    const problem = tryJson ? jsonSyntaxProblem(text) : yamlSyntaxProblem(text);
    // Bun's own words ("JSON Parse error: Expected '}'") when the locator finds nothing wrong.
    const what = problem ? `line ${problem.line}, column ${problem.column}: ${problem.message}` : (err as Error).message.replace(/^(JSON|YAML) Parse error: /, "");
    throw new InputError(`${source}: not valid ${kind}: ${what}`);
  }
}

/** A workload read from a manifest, and where it was read from (for errors). */
export interface Manifest {
  workload: Workload;
  /** The file, with the document's position when the file holds several. */
  source: string;
}

/** Every workload in one manifest's text. */
export function parseManifestText(text: string, source: string, format: Format): Manifest[] {
  const docs = parseDocument(text, source, format);
  const items = (Array.isArray(docs) ? docs.flat() : [docs]).filter((d) => d !== null && d !== undefined);
  if (items.length === 0) throw new InputError(`${source}: no workloads in it`);
  return items.map((item, i) => {
    const at = items.length > 1 ? `${source} (workload ${i + 1})` : source;
    return { workload: parseWorkload(item, at), source: at };
  });
}

const EXTENSIONS: Record<string, "json" | "yaml"> = { ".json": "json", ".yaml": "yaml", ".yml": "yaml" };

/** `what`: how much the source holds, e.g. "52428800 bytes". */
function tooLarge(source: string, what: string): InputError {
  return new InputError(`${source}: ${what}, over the ${MAX_MESSAGE_BYTES}-byte (4 MiB) limit of one request; apply its workloads in several parts`);
}

/** Stdin, refused as soon as it passes `maxBytes`. */
async function readStdin(maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of Bun.stdin.stream()) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge("<stdin>", `more than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`);
  }
}

/**
 * Reads `-f FILE|-` (stdin): its text, its name for errors, and its format by extension. More
 * than `maxBytes` is refused before it is read whole.
 */
export async function readInput(path: string, maxBytes = Number.POSITIVE_INFINITY): Promise<{ text: string; source: string; format: Format }> {
  if (path === "-") return { text: await readStdin(maxBytes), source: "<stdin>", format: "guess" };
  const size = sizeOf(path);
  if (size > maxBytes) throw tooLarge(path, `${size} bytes`);
  try {
    return { text: readFileSync(path, "utf8"), source: path, format: EXTENSIONS[extname(path)] ?? "guess" };
  } catch (err) {
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`);
  }
}

/**
 * Reads `-f FILE|DIR|-`: a file, every .json/.yaml/.yml file of a directory (sorted), or stdin;
 * together at most one request's worth of bytes.
 */
export async function readManifests(path: string): Promise<Manifest[]> {
  let files: string[];
  try {
    files =
      path === "-"
        ? [path]
        : statSync(path).isDirectory()
          ? readdirSync(path)
              .filter((f) => extname(f) in EXTENSIONS)
              .sort()
              .map((f) => join(path, f))
          : [path];
  } catch (err) {
    throw new InputError(`${path}: cannot read: ${(err as Error).message}`);
  }
  if (files.length === 0) throw new InputError(`${path}: no .json, .yaml or .yml files in it`);
  if (files.length > 1) {
    const total = files.reduce((sum, f) => sum + sizeOf(f), 0);
    if (total > MAX_MESSAGE_BYTES) throw tooLarge(path, `${total} bytes in its manifests`);
  }
  const inputs = [];
  for (const f of files) inputs.push(await readInput(f, MAX_MESSAGE_BYTES));
  const all = inputs.flatMap((input) => parseManifestText(input.text, input.source, input.format));
  const seen = new Set<string>();
  for (const { workload: w } of all) {
    if (seen.has(w.name)) throw new InputError(`${path}: workload "${w.name}" is declared twice`);
    seen.add(w.name);
  }
  return all;
}
