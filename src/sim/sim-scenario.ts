/**
 * The input of `tessera sim`: a fleet, a workload mix and a failure schedule, read from a
 * parsed JSON or YAML document. PURE. Every refusal names the field path and what was
 * expected (`fleet[0].count: expected a positive integer, got -3`), like validate.ts does
 * for manifests; keys are snake_case, as in manifests and their error messages.
 */
import { DURATION_EXPECTED, formatDurationMs, parseDurationMs } from "../core/model/duration.js";
import type { Capacity } from "../core/model/cluster-state.js";
import type { Rejection } from "../core/model/rejections.js";
import { SPEC_DEFAULTS, type WorkloadKindName } from "../core/model/spec.js";
import { MAX_CPU_MILLIS, MAX_MEMORY_MB, MAX_REPLICAS, validateLabels, validateName, validatePlacement } from "../core/model/validate.js";
import type { Placement } from "../gen/tessera/v1/types.js";

/**
 * Bounds on one run's work: every simulated second is one writer turn with a heartbeat per node
 * and a reconcile pass over every instance, for each strategy. A fleet of 1,000 nodes with
 * 10,000 replicas simulates about 15 s per second of real time, per strategy.
 */
export const MAX_SIM_NODES = 1_000;
export const MAX_SIM_REPLICAS = 10_000;
export const MAX_SIM_DURATION_MS = 3_600_000;
/** Without a `duration`, the run lasts this long after the last failure (or the start). */
export const SETTLE_AFTER_MS = 60_000;

export interface NodeGroup {
  /** Its nodes are `<name>-0`, `<name>-1`, … */
  name: string;
  count: number;
  capacity: Capacity;
  labels: Record<string, string>;
}

export interface WorkloadMix {
  /** The workload's name, or with `count` above 1 the prefix of `<name>-0`, `<name>-1`, … */
  name: string;
  count: number;
  /** As `spec.kind`: service (the default), system (a copy per qualifying node) or batch. */
  kind: WorkloadKindName;
  /** A service's replicas; a batch's completions; unused for a system workload. */
  replicas: number;
  /** A batch's parallelism (1 for the other kinds). */
  parallelism: number;
  resources: Capacity;
  nodeSelector: Record<string, string>;
  /** How its rollouts go (`update` of the spec, and progress_deadline); unset: the defaults. */
  update?: RolloutStrategy;
  /** Its own placement rules (`placement` of the spec); unset: none. */
  placement?: Placement;
}

/** A scenario workload's rollout settings, as its spec's `update` and `progress_deadline` would say. */
export interface RolloutStrategy {
  maxSurge?: number;
  maxUnavailable?: number;
  canary?: number;
  autoPromote?: boolean;
  minHealthyMs?: number;
  autoRevert?: boolean;
  progressDeadlineMs?: number;
}

/** Nodes named outright, or `count` of a group's nodes (all of them when count is unset). */
export type NodeSelection = { nodes: string[] } | { group: string; count?: number };

export type Failure =
  /** The agents stop answering (a crash or a network cut); their instances keep running. */
  | { at: number; kill: NodeSelection }
  /** Dead nodes' agents come back and reconnect. */
  | { at: number; restore: NodeSelection }
  /** The running copy of a replica (`web-0`) exits with code 1. */
  | { at: number; crash: string }
  /** A workload's spec changes: its copies are replaced under its update strategy; with `fails`, the new ones never become Ready. */
  | { at: number; rollout: string; fails: boolean };

export interface Scenario {
  fleet: NodeGroup[];
  workloads: WorkloadMix[];
  /** Sorted by time; events at the same time keep the file's order. */
  failures: Failure[];
  durationMs: number;
}

export type ScenarioResult = { scenario: Scenario } | { problems: Rejection[] };

/** The names a workload mix expands to. */
export function workloadNames(w: Pick<WorkloadMix, "name" | "count">): string[] {
  return w.count === 1 ? [w.name] : Array.from({ length: w.count }, (_, i) => `${w.name}-${i}`);
}

export function nodeNames(g: Pick<NodeGroup, "name" | "count">): string[] {
  return Array.from({ length: g.count }, (_, i) => `${g.name}-${i}`);
}

/** A value as a refusal quotes it. */
export function show(v: unknown): string {
  if (v === undefined || v === null) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return JSON.stringify(v);
}

/** Collects refusals while reading a document; each reader returns undefined for a bad value. Cost scenarios (cost-scenario.ts) read with it too. */
export class Reader {
  readonly problems: Rejection[] = [];

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

  name(v: unknown, field: string): string | undefined {
    if (typeof v !== "string") return this.refuse(field, `a name, got ${show(v)}`);
    const problem = validateName(v, field);
    if (problem) this.problems.push(problem);
    return problem ? undefined : v;
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

  boolean(v: unknown, field: string): boolean | undefined {
    return typeof v === "boolean" ? v : this.refuse(field, `true or false, got ${show(v)}`);
  }

  /** A scenario workload's `update`: its rollout settings, each optional. */
  update(v: unknown, field: string): RolloutStrategy | undefined {
    const o = this.object(v, field, UPDATE_KEYS);
    if (o === undefined) return undefined;
    const u: RolloutStrategy = {};
    if (o.max_surge !== undefined) u.maxSurge = this.integer(o.max_surge, `${field}.max_surge`, 0, MAX_REPLICAS);
    if (o.max_unavailable !== undefined) u.maxUnavailable = this.integer(o.max_unavailable, `${field}.max_unavailable`, 0, MAX_REPLICAS);
    if (o.canary !== undefined) u.canary = this.integer(o.canary, `${field}.canary`, 0, MAX_REPLICAS);
    if (o.auto_promote !== undefined) u.autoPromote = this.boolean(o.auto_promote, `${field}.auto_promote`);
    if (o.min_healthy_time !== undefined) u.minHealthyMs = this.duration(o.min_healthy_time, `${field}.min_healthy_time`);
    if (o.auto_revert !== undefined) u.autoRevert = this.boolean(o.auto_revert, `${field}.auto_revert`);
    if (o.progress_deadline !== undefined) u.progressDeadlineMs = this.duration(o.progress_deadline, `${field}.progress_deadline`);
    if (u.maxSurge === 0 && u.maxUnavailable === 0) this.refuse(field, "max_surge or max_unavailable above 0");
    return u;
  }

  /** A scenario workload's `placement`, in a manifest's words (snake_case keys), checked as a manifest's is. */
  placement(v: unknown, field: string, kind: WorkloadKindName): Placement | undefined {
    const o = this.object(v, field, PLACEMENT_KEYS);
    if (o === undefined) return undefined;
    const before = this.problems.length;
    const text = (x: unknown, at: string) => (typeof x === "string" ? x : (this.refuse(at, `a string, got ${show(x)}`) ?? ""));
    const int = (x: unknown, at: string, min: number, max: number) => (x === undefined ? 0 : (this.integer(x, at, min, max) ?? 0));
    const p: Placement = {
      maxPerNode: int(o.max_per_node, `${field}.max_per_node`, 0, MAX_REPLICAS),
      spread: (o.spread === undefined ? [] : this.objects(o.spread, `${field}.spread`, "spreads (label, weight, targets, when_unsatisfiable)", SPREAD_KEYS)).map(({ o: s, field: at }) => ({
        label: text(s.label, `${at}.label`),
        weight: int(s.weight, `${at}.weight`, 0, 100),
        targets: (s.targets === undefined ? [] : this.objects(s.targets, `${at}.targets`, "targets (value, percent)", TARGET_KEYS)).map(({ o: t, field: tf }) => ({ value: text(t.value, `${tf}.value`), percent: int(t.percent, `${tf}.percent`, 0, 100) })),
        whenUnsatisfiable: s.when_unsatisfiable === undefined ? 0 : s.when_unsatisfiable === "schedule" ? 1 : s.when_unsatisfiable === "wait" ? 2 : (this.refuse(`${at}.when_unsatisfiable`, `schedule or wait, got ${show(s.when_unsatisfiable)}`) ?? 0),
      })),
      affinity: (o.affinity === undefined ? [] : this.objects(o.affinity, `${field}.affinity`, "affinities (label, value, weight)", AFFINITY_KEYS)).map(({ o: a, field: at }) => ({
        label: text(a.label, `${at}.label`),
        value: text(a.value, `${at}.value`),
        weight: typeof a.weight === "number" && Number.isInteger(a.weight) ? a.weight : a.weight === undefined ? 0 : (this.refuse(`${at}.weight`, `an integer from -100 to 100, got ${show(a.weight)}`) ?? 0),
      })),
    };
    this.problems.push(...validatePlacement(p, kind, field));
    return this.problems.length > before ? undefined : p;
  }

  /** A duration of at most `max` (a placement scenario's hour unless told). */
  duration(v: unknown, field: string, max = MAX_SIM_DURATION_MS): number | undefined {
    const ms = typeof v === "string" ? parseDurationMs(v) : undefined;
    if (ms === undefined) return this.refuse(field, `${DURATION_EXPECTED}, got ${show(v)}`);
    if (ms > max) return this.refuse(field, `at most ${formatDurationMs(max)}, got ${v}`);
    return ms;
  }
}

const SCENARIO_KEYS = ["fleet", "workloads", "failures", "duration"] as const;
const GROUP_KEYS = ["name", "count", "cpu_millis", "memory_mb", "labels"] as const;
const WORKLOAD_KEYS = ["name", "count", "kind", "replicas", "completions", "parallelism", "resources", "node_selector", "update", "placement"] as const;
const PLACEMENT_KEYS = ["max_per_node", "spread", "affinity"] as const;
const SPREAD_KEYS = ["label", "weight", "targets", "when_unsatisfiable"] as const;
const TARGET_KEYS = ["value", "percent"] as const;
const AFFINITY_KEYS = ["label", "value", "weight"] as const;
const UPDATE_KEYS = ["max_surge", "max_unavailable", "canary", "auto_promote", "min_healthy_time", "auto_revert", "progress_deadline"] as const;
const KINDS: readonly WorkloadKindName[] = ["service", "system", "batch"];
const RESOURCE_KEYS = ["cpu_millis", "memory_mb"] as const;
const FAILURE_KEYS = ["at", "kill", "restore", "crash", "rollout", "fails"] as const;
const SELECTION_KEYS = ["nodes", "group", "count"] as const;

/** Reads a scenario from a parsed document; every problem is reported, not just the first. */
export function parseScenario(doc: unknown): ScenarioResult {
  const r = new Reader();
  const root = r.object(doc, "scenario", SCENARIO_KEYS);
  if (root === undefined) return { problems: r.problems };

  const fleet: NodeGroup[] = [];
  const nodes = new Set<string>();
  r.objects(root.fleet, "fleet", "node groups (name, count, cpu_millis, memory_mb, labels)", GROUP_KEYS, "at least one node group").forEach(({ o, field }) => {
    const name = r.name(o.name, `${field}.name`);
    const count = r.integer(o.count, `${field}.count`, 1, MAX_SIM_NODES);
    const cpuMillis = r.integer(o.cpu_millis, `${field}.cpu_millis`, 1, MAX_CPU_MILLIS);
    const memoryMb = r.integer(o.memory_mb, `${field}.memory_mb`, 1, MAX_MEMORY_MB);
    const labels = r.labels(o.labels, `${field}.labels`);
    if (name === undefined || count === undefined || cpuMillis === undefined || memoryMb === undefined || labels === undefined) return;
    if (fleet.some((f) => f.name === name)) {
      r.refuse(`${field}.name`, `a name not used by another group, got "${name}" twice`);
      return;
    }
    // Names are checked as DNS labels, so `<group>-<index>` cannot collide across groups.
    const last = nodeNames({ name, count }).at(-1)!;
    const tooLong = validateName(last, `${field}.name`);
    if (tooLong) r.problems.push(tooLong);
    else fleet.push({ name, count, capacity: { cpuMillis, memoryMb }, labels });
    for (const n of nodeNames({ name, count })) nodes.add(n);
  });
  const totalNodes = fleet.reduce((n, g) => n + g.count, 0);
  if (totalNodes > MAX_SIM_NODES) r.refuse("fleet", `at most ${MAX_SIM_NODES} nodes in all, got ${totalNodes}`);

  const workloads: WorkloadMix[] = [];
  const replicaOf = new Set<string>();
  const taken = new Set<string>();
  r.objects(root.workloads, "workloads", "workloads (name, count, kind, replicas, completions, parallelism, resources, node_selector, update, placement)", WORKLOAD_KEYS, "at least one workload").forEach(({ o, field }) => {
    const name = r.name(o.name, `${field}.name`);
    const count = o.count === undefined ? 1 : r.integer(o.count, `${field}.count`, 1, MAX_SIM_REPLICAS);
    const kind = o.kind === undefined ? "service" : KINDS.find((k) => k === o.kind);
    if (kind === undefined) r.refuse(`${field}.kind`, `service, system or batch, got ${show(o.kind)}`);
    // What the kind does not have is refused, as a manifest's would be.
    const only = (key: "replicas" | "completions" | "parallelism", kinds: WorkloadKindName[]) => {
      if (o[key] !== undefined && kind !== undefined && !kinds.includes(kind)) r.refuse(`${field}.${key}`, `none for a ${kind} workload`);
    };
    only("replicas", ["service"]);
    only("completions", ["batch"]);
    only("parallelism", ["batch"]);
    const replicas =
      kind === "batch"
        ? o.completions === undefined ? SPEC_DEFAULTS.completions : r.integer(o.completions, `${field}.completions`, 1, MAX_REPLICAS)
        : kind === "system" ? 0
        : o.replicas === undefined ? 1 : r.integer(o.replicas, `${field}.replicas`, 0, MAX_REPLICAS);
    const parallelism = kind === "batch" && o.parallelism !== undefined ? r.integer(o.parallelism, `${field}.parallelism`, 1, MAX_REPLICAS) : 1;
    const res = o.resources === undefined ? {} : r.object(o.resources, `${field}.resources`, RESOURCE_KEYS);
    // Unset resources take the manifest defaults, so a scenario means what the same manifest would.
    const cpuMillis = res?.cpu_millis === undefined ? SPEC_DEFAULTS.cpuMillis : r.integer(res.cpu_millis, `${field}.resources.cpu_millis`, 1, MAX_CPU_MILLIS);
    const memoryMb = res?.memory_mb === undefined ? SPEC_DEFAULTS.memoryMb : r.integer(res.memory_mb, `${field}.resources.memory_mb`, 1, MAX_MEMORY_MB);
    const nodeSelector = r.labels(o.node_selector, `${field}.node_selector`);
    const update = o.update === undefined ? undefined : r.update(o.update, `${field}.update`);
    if (o.update !== undefined && kind !== undefined && kind !== "service") r.refuse(`${field}.update`, `none for a ${kind} workload (rollouts are simulated for services)`);
    const placement = o.placement === undefined || kind === undefined ? undefined : r.placement(o.placement, `${field}.placement`, kind);
    if (o.placement !== undefined && placement === undefined) return;
    if (name === undefined || count === undefined || kind === undefined || replicas === undefined || parallelism === undefined || res === undefined || cpuMillis === undefined || memoryMb === undefined || nodeSelector === undefined) return;
    const names = workloadNames({ name, count });
    const twice = names.find((n) => taken.has(n));
    if (twice !== undefined) {
      r.refuse(`${field}.name`, `names not used by another workload, got "${twice}" twice`);
      return;
    }
    const tooLong = validateName(names.at(-1)!, `${field}.name`);
    if (tooLong) {
      r.problems.push(tooLong);
      return;
    }
    // A system workload's copies are numbered as nodes take them: up to one per node.
    const copies = kind === "system" ? totalNodes : replicas;
    for (const n of names) {
      taken.add(n);
      for (let k = 0; k < copies; k++) replicaOf.add(`${n}-${k}`);
    }
    workloads.push({ name, count, kind, replicas, parallelism, resources: { cpuMillis, memoryMb }, nodeSelector, ...(update ? { update } : {}), ...(placement ? { placement } : {}) });
  });
  const totalReplicas = workloads.reduce((n, w) => n + w.count * (w.kind === "system" ? totalNodes : w.replicas), 0);
  if (totalReplicas > MAX_SIM_REPLICAS) r.refuse("workloads", `at most ${MAX_SIM_REPLICAS} replicas in all, got ${totalReplicas}`);

  const failures: Failure[] = [];
  const selection = (v: unknown, field: string): NodeSelection | undefined => {
    const o = r.object(v, field, SELECTION_KEYS);
    if (o === undefined) return undefined;
    if ((o.nodes === undefined) === (o.group === undefined)) return r.refuse(field, "either nodes (a list of node names) or group (with an optional count)");
    if (o.nodes !== undefined) {
      if (o.count !== undefined) r.refuse(`${field}.count`, "no count with nodes (count goes with group)");
      const list = r.list(o.nodes, `${field}.nodes`, "node names");
      if (list === undefined) return undefined;
      const bad = list.findIndex((n) => typeof n !== "string" || !nodes.has(n));
      if (bad >= 0) return r.refuse(`${field}.nodes[${bad}]`, `a node of the fleet, got ${show(list[bad])}`);
      return { nodes: list as string[] };
    }
    const group = fleet.find((g) => g.name === o.group);
    if (group === undefined) {
      const known = fleet.length > 0 ? ` (${fleet.map((g) => g.name).join(", ")})` : "";
      return r.refuse(`${field}.group`, `a group of the fleet${known}, got ${show(o.group)}`);
    }
    if (o.count === undefined) return { group: group.name };
    const count = r.integer(o.count, `${field}.count`, 1, group.count);
    return count === undefined ? undefined : { group: group.name, count };
  };
  const events = root.failures === undefined ? [] : r.objects(root.failures, "failures", "failure events", FAILURE_KEYS);
  events.forEach(({ o, field }) => {
    const at = r.duration(o.at, `${field}.at`);
    const kinds = (["kill", "restore", "crash", "rollout"] as const).filter((k) => o[k] !== undefined);
    if (kinds.length !== 1) {
      r.refuse(field, `exactly one of kill, restore, crash or rollout, got ${kinds.length === 0 ? "none" : kinds.join(" and ")}`);
      return;
    }
    const kind = kinds[0]!;
    if (o.fails !== undefined && kind !== "rollout") r.refuse(`${field}.fails`, "only with rollout");
    if (kind === "rollout") {
      const services = workloads.filter((w) => w.kind === "service").flatMap(workloadNames);
      const fails = o.fails === undefined ? false : r.boolean(o.fails, `${field}.fails`);
      if (typeof o.rollout !== "string" || !services.includes(o.rollout)) r.refuse(`${field}.rollout`, `a service workload of the scenario (like ${services[0] ?? "web"}), got ${show(o.rollout)}`);
      else if (at !== undefined && fails !== undefined) failures.push({ at, rollout: o.rollout, fails });
      return;
    }
    if (kind === "crash") {
      if (typeof o.crash !== "string" || !replicaOf.has(o.crash)) r.refuse(`${field}.crash`, `a replica of a workload (like ${[...replicaOf][0] ?? "web-0"}), got ${show(o.crash)}`);
      else if (at !== undefined) failures.push({ at, crash: o.crash });
      return;
    }
    const sel = selection(o[kind], `${field}.${kind}`);
    if (at !== undefined && sel !== undefined) failures.push(kind === "kill" ? { at, kill: sel } : { at, restore: sel });
  });
  // Stable: events at the same time keep the file's order.
  failures.sort((a, b) => a.at - b.at);

  const last = failures.at(-1)?.at ?? 0;
  let durationMs = Math.min(MAX_SIM_DURATION_MS, last + SETTLE_AFTER_MS);
  if (root.duration !== undefined) {
    const d = r.duration(root.duration, "duration");
    if (d !== undefined && d < last) r.refuse("duration", `at least the last failure's time (${last / 1000}s), got ${root.duration as string}`);
    else if (d !== undefined) durationMs = d;
  }
  return r.problems.length > 0 ? { problems: r.problems } : { scenario: { fleet, workloads, failures, durationMs } };
}
