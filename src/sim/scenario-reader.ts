/**
 * The one reader of `tessera sim` documents, placement (sim-scenario.ts) and cost
 * (cost-scenario.ts) alike: field readers that collect refusals instead of stopping at the
 * first, each naming the field path and what was expected (`fleet[0].count: expected a
 * positive integer, got -3`), like validate.ts does for manifests. PURE. Keys are snake_case,
 * as in manifests and their error messages.
 */
import type { Capacity } from "../core/model/cluster-state.js";
import { DURATION_EXPECTED, formatDurationMs, parseDurationMs } from "../core/model/duration.js";
import type { Rejection } from "../core/model/rejections.js";
import { SPEC_DEFAULTS } from "../core/model/spec.js";
import { MAX_CPU_MILLIS, MAX_MEMORY_MB, validateLabels, validateName } from "../core/model/validate.js";

/** A value as a refusal quotes it. */
export function show(v: unknown): string {
  if (v === undefined || v === null) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return JSON.stringify(v);
}

const RESOURCE_KEYS = ["cpu_millis", "memory_mb"] as const;

/** A group of like nodes as read (a placement fleet's group, a cost scenario's pool); a field is undefined when refused. */
export interface GroupFields {
  name: string | undefined;
  count: number | undefined;
  capacity: Capacity | undefined;
  labels: Record<string, string> | undefined;
}

/** Collects refusals while reading a document; each reader returns undefined for a bad value. */
export class Reader {
  readonly problems: Rejection[] = [];

  /** `maxDurationMs` bounds a duration unless its reader is told otherwise. */
  constructor(private readonly maxDurationMs: number) {}

  refuse(field: string, expected: string): undefined {
    this.problems.push({ kind: "InvalidArgument", field, expected });
    return undefined;
  }

  /** An object with only the given keys (a typo is refused, not ignored). */
  object(v: unknown, field: string, keys: readonly string[]): Record<string, unknown> | undefined {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.refuse(field, `an object with ${keys.join(", ")}, got ${show(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.refuse(`${field}.${k}`, `one of the fields ${keys.join(", ")} (unknown field)`);
    return o;
  }

  list(v: unknown, field: string, what: string): unknown[] | undefined {
    return Array.isArray(v) ? v : this.refuse(field, `a list of ${what}, got ${show(v)}`);
  }

  /**
   * The entries of a list of objects, each with its field path (`fleet[2]`); entries that are
   * not objects with only `keys` are refused and left out. `atLeastOne` refuses an empty list.
   */
  objects(v: unknown, field: string, what: string, keys: readonly string[], atLeastOne?: string): Array<{ o: Record<string, unknown>; field: string }> {
    const list = this.list(v, field, what) ?? [];
    if (Array.isArray(v) && list.length === 0 && atLeastOne !== undefined) this.refuse(field, atLeastOne);
    return list.flatMap((item, i) => {
      const o = this.object(item, `${field}[${i}]`, keys);
      return o === undefined ? [] : [{ o, field: `${field}[${i}]` }];
    });
  }

  integer(v: unknown, field: string, min: number, max: number): number | undefined {
    const what = min === 1 ? "a positive integer" : "a non-negative integer";
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) return this.refuse(field, `${what}, got ${show(v)}`);
    if (v > max) return this.refuse(field, `at most ${max}, got ${v}`);
    return v;
  }

  /** A price or a rate. */
  money(v: unknown, field: string): number | undefined {
    return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : this.refuse(field, `a non-negative number, got ${show(v)}`);
  }

  boolean(v: unknown, field: string): boolean | undefined {
    return typeof v === "boolean" ? v : this.refuse(field, `true or false, got ${show(v)}`);
  }

  /** One of `options`; `expected` lists them for the refusal (all of them, comma-separated, unless told). */
  choice<T extends string>(v: unknown, field: string, options: readonly T[], expected = options.join(", ")): T | undefined {
    return options.find((x) => x === v) ?? this.refuse(field, `${expected}, got ${show(v)}`);
  }

  name(v: unknown, field: string): string | undefined {
    if (typeof v !== "string") return this.refuse(field, `a name, got ${show(v)}`);
    return this.fits(v, field) ? v : undefined;
  }

  /** Whether `name` is a valid name (a DNS label); `field` is refused when not. Checks the longest name a group or workload expands to. */
  fits(name: string, field: string): boolean {
    const problem = validateName(name, field);
    if (problem) this.problems.push(problem);
    return problem === undefined;
  }

  /** Whether no earlier entry took `name`; refused when one did (`what` says what the entries are: group, pool, …). */
  unused(name: string, taken: readonly string[], field: string, what: string): boolean {
    if (!taken.includes(name)) return true;
    this.refuse(field, `a name not used by another ${what}, got "${name}" twice`);
    return false;
  }

  /** A label map (or node selector); unset means none. */
  labels(v: unknown, field: string): Record<string, string> | undefined {
    if (v === undefined) return {};
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.refuse(field, `a map of labels (key: value), got ${show(v)}`);
    const out: Record<string, string> = {};
    let valid = true;
    for (const [k, value] of Object.entries(v)) {
      if (typeof value === "string") out[k] = value;
      else valid = this.refuse(`${field}.${k}`, `a string value, got ${show(value)}`) ?? false;
    }
    const problems = validateLabels(out, field);
    this.problems.push(...problems);
    return valid && problems.length === 0 ? out : undefined;
  }

  /** A duration of at most `max` (the document's bound unless told). */
  duration(v: unknown, field: string, max = this.maxDurationMs): number | undefined {
    const ms = typeof v === "string" ? parseDurationMs(v) : undefined;
    if (ms === undefined) return this.refuse(field, `${DURATION_EXPECTED}, got ${show(v)}`);
    if (ms > max) return this.refuse(field, `at most ${formatDurationMs(max)}, got ${v}`);
    return ms;
  }

  /** A workload's `resources`; unset ones take the manifest defaults, so a scenario means what the same manifest would. */
  resources(v: unknown, field: string): Capacity | undefined {
    const res = v === undefined ? {} : this.object(v, field, RESOURCE_KEYS);
    const cpuMillis = res?.cpu_millis === undefined ? SPEC_DEFAULTS.cpuMillis : this.integer(res.cpu_millis, `${field}.cpu_millis`, 1, MAX_CPU_MILLIS);
    const memoryMb = res?.memory_mb === undefined ? SPEC_DEFAULTS.memoryMb : this.integer(res.memory_mb, `${field}.memory_mb`, 1, MAX_MEMORY_MB);
    return res === undefined || cpuMillis === undefined || memoryMb === undefined ? undefined : { cpuMillis, memoryMb };
  }

  /** A group of like nodes: name, count (1 to `maxCount`), cpu_millis, memory_mb and labels, read in that order. */
  group(o: Record<string, unknown>, field: string, maxCount: number): GroupFields {
    const name = this.name(o.name, `${field}.name`);
    const count = this.integer(o.count, `${field}.count`, 1, maxCount);
    const cpuMillis = this.integer(o.cpu_millis, `${field}.cpu_millis`, 1, MAX_CPU_MILLIS);
    const memoryMb = this.integer(o.memory_mb, `${field}.memory_mb`, 1, MAX_MEMORY_MB);
    const labels = this.labels(o.labels, `${field}.labels`);
    return { name, count, capacity: cpuMillis === undefined || memoryMb === undefined ? undefined : { cpuMillis, memoryMb }, labels };
  }
}
