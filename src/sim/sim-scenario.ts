/**
 * The input of `tessera sim`: a fleet, a workload mix and a failure schedule, read from a
 * parsed JSON or YAML document with the scenario reader (scenario-reader.ts), in named steps:
 * the fleet, the workloads, the failures, the duration. PURE.
 */
import type { Capacity } from "../core/model/cluster-state.js";
import type { Rejection } from "../core/model/rejections.js";
import { SPEC_DEFAULTS, type WorkloadKindName } from "../core/model/spec.js";
import { MAX_REPLICAS, validatePlacement } from "../core/model/validate.js";
import type { Placement } from "../gen/tessera/v1/types.js";
import { Reader, show } from "./scenario-reader.js";
import { type PeriodicFields, readPeriodic, SCHEDULE_KEYS } from "./scenario-schedule.js";

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
  /** A batch's schedule (a periodic batch: its runs start in the simulated fleet); unset: none. */
  periodic?: PeriodicFields;
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

const SCENARIO_KEYS = ["fleet", "workloads", "failures", "duration"] as const;
const GROUP_KEYS = ["name", "count", "cpu_millis", "memory_mb", "labels"] as const;
const WORKLOAD_KEYS = ["name", "count", "kind", "replicas", "completions", "parallelism", "resources", "node_selector", "update", "placement", ...SCHEDULE_KEYS] as const;
const PLACEMENT_KEYS = ["max_per_node", "spread", "affinity"] as const;
const SPREAD_KEYS = ["label", "weight", "targets", "when_unsatisfiable"] as const;
const TARGET_KEYS = ["value", "percent"] as const;
const AFFINITY_KEYS = ["label", "value", "weight"] as const;
const UPDATE_KEYS = ["max_surge", "max_unavailable", "canary", "auto_promote", "min_healthy_time", "auto_revert", "progress_deadline"] as const;
const KINDS: readonly WorkloadKindName[] = ["service", "system", "batch"];
const FAILURE_KEYS = ["at", "kill", "restore", "crash", "rollout", "fails"] as const;
const SELECTION_KEYS = ["nodes", "group", "count"] as const;
const WHEN_UNSATISFIABLE = ["schedule", "wait"] as const;

/** Reads a scenario from a parsed document; every problem is reported, not just the first. */
export function parseScenario(doc: unknown): ScenarioResult {
  const r = new Reader(MAX_SIM_DURATION_MS);
  const root = r.object(doc, "scenario", SCENARIO_KEYS);
  if (root === undefined) return { problems: r.problems };
  const { fleet, nodes } = readFleet(r, root.fleet);
  const workloads = readWorkloads(r, root.workloads, fleet);
  const failures = readFailures(r, root.failures, fleet, nodes, workloads);
  const durationMs = readDuration(r, root.duration, failures);
  return r.problems.length > 0 ? { problems: r.problems } : { scenario: { fleet, workloads, failures, durationMs } };
}

function totalNodes(fleet: readonly NodeGroup[]): number {
  return fleet.reduce((n, g) => n + g.count, 0);
}

/** The node groups, and the names of every node a failure may name. */
function readFleet(r: Reader, v: unknown): { fleet: NodeGroup[]; nodes: Set<string> } {
  const fleet: NodeGroup[] = [];
  const nodes = new Set<string>();
  r.objects(v, "fleet", "node groups (name, count, cpu_millis, memory_mb, labels)", GROUP_KEYS, "at least one node group").forEach(({ o, field }) => {
    const { name, count, capacity, labels } = r.group(o, field, MAX_SIM_NODES);
    if (name === undefined || count === undefined || capacity === undefined || labels === undefined) return;
    if (!r.unused(name, fleet.map((g) => g.name), `${field}.name`, "group")) return;
    // Names are checked as DNS labels, so `<group>-<index>` cannot collide across groups.
    if (r.fits(nodeNames({ name, count }).at(-1)!, `${field}.name`)) fleet.push({ name, count, capacity, labels });
    for (const n of nodeNames({ name, count })) nodes.add(n);
  });
  const total = totalNodes(fleet);
  if (total > MAX_SIM_NODES) r.refuse("fleet", `at most ${MAX_SIM_NODES} nodes in all, got ${total}`);
  return { fleet, nodes };
}

function readWorkloads(r: Reader, v: unknown, fleet: readonly NodeGroup[]): WorkloadMix[] {
  const workloads: WorkloadMix[] = [];
  const taken = new Set<string>();
  r.objects(v, "workloads", "workloads (name, count, kind, replicas, completions, parallelism, resources, node_selector, update, placement, schedule, time_zone, concurrency, starting_deadline, keep_runs)", WORKLOAD_KEYS, "at least one workload").forEach(({ o, field }) => {
    const w = readWorkload(r, o, field);
    if (w === undefined) return;
    const names = workloadNames(w);
    const twice = names.find((n) => taken.has(n));
    if (twice !== undefined) {
      r.refuse(`${field}.name`, `names not used by another workload, got "${twice}" twice`);
      return;
    }
    if (!r.fits(names.at(-1)!, `${field}.name`)) return;
    for (const n of names) taken.add(n);
    workloads.push(w);
  });
  const total = workloads.reduce((n, w) => n + w.count * (w.kind === "system" ? totalNodes(fleet) : w.replicas), 0);
  if (total > MAX_SIM_REPLICAS) r.refuse("workloads", `at most ${MAX_SIM_REPLICAS} replicas in all, got ${total}`);
  return workloads;
}

/** One entry of `workloads`, its fields checked against its kind. */
function readWorkload(r: Reader, o: Record<string, unknown>, field: string): WorkloadMix | undefined {
  const name = r.name(o.name, `${field}.name`);
  const count = o.count === undefined ? 1 : r.integer(o.count, `${field}.count`, 1, MAX_SIM_REPLICAS);
  const kind = o.kind === undefined ? "service" : r.choice(o.kind, `${field}.kind`, KINDS, "service, system or batch");
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
  const resources = r.resources(o.resources, `${field}.resources`);
  const nodeSelector = r.labels(o.node_selector, `${field}.node_selector`);
  const update = o.update === undefined ? undefined : readUpdate(r, o.update, `${field}.update`);
  if (o.update !== undefined && kind !== undefined && kind !== "service") r.refuse(`${field}.update`, `none for a ${kind} workload (rollouts are simulated for services)`);
  const placement = o.placement === undefined || kind === undefined ? undefined : readPlacement(r, o.placement, `${field}.placement`, kind);
  if (o.placement !== undefined && placement === undefined) return undefined;
  // The longest name the workload gets is its last copy's.
  const periodic = kind === undefined || name === undefined ? undefined : readPeriodic(r, o, field, kind, count !== undefined && count > 1 ? `${name}-${count - 1}` : name);
  if (name === undefined || count === undefined || kind === undefined || replicas === undefined || parallelism === undefined || resources === undefined || nodeSelector === undefined) return undefined;
  return { name, count, kind, replicas, parallelism, resources, nodeSelector, ...(update ? { update } : {}), ...(placement ? { placement } : {}), ...(periodic ? { periodic } : {}) };
}

/** A scenario workload's `update`: its rollout settings, each optional. */
function readUpdate(r: Reader, v: unknown, field: string): RolloutStrategy | undefined {
  const o = r.object(v, field, UPDATE_KEYS);
  if (o === undefined) return undefined;
  const u: RolloutStrategy = {};
  if (o.max_surge !== undefined) u.maxSurge = r.integer(o.max_surge, `${field}.max_surge`, 0, MAX_REPLICAS);
  if (o.max_unavailable !== undefined) u.maxUnavailable = r.integer(o.max_unavailable, `${field}.max_unavailable`, 0, MAX_REPLICAS);
  if (o.canary !== undefined) u.canary = r.integer(o.canary, `${field}.canary`, 0, MAX_REPLICAS);
  if (o.auto_promote !== undefined) u.autoPromote = r.boolean(o.auto_promote, `${field}.auto_promote`);
  if (o.min_healthy_time !== undefined) u.minHealthyMs = r.duration(o.min_healthy_time, `${field}.min_healthy_time`);
  if (o.auto_revert !== undefined) u.autoRevert = r.boolean(o.auto_revert, `${field}.auto_revert`);
  if (o.progress_deadline !== undefined) u.progressDeadlineMs = r.duration(o.progress_deadline, `${field}.progress_deadline`);
  if (u.maxSurge === 0 && u.maxUnavailable === 0) r.refuse(field, "max_surge or max_unavailable above 0");
  return u;
}

/** A scenario workload's `placement`, in a manifest's words (snake_case keys), checked as a manifest's is. */
function readPlacement(r: Reader, v: unknown, field: string, kind: WorkloadKindName): Placement | undefined {
  const o = r.object(v, field, PLACEMENT_KEYS);
  if (o === undefined) return undefined;
  const before = r.problems.length;
  const p: Placement = {
    maxPerNode: orZero(r, o.max_per_node, `${field}.max_per_node`, 0, MAX_REPLICAS),
    spread: (o.spread === undefined ? [] : r.objects(o.spread, `${field}.spread`, "spreads (label, weight, targets, when_unsatisfiable)", SPREAD_KEYS)).map(({ o: s, field: at }) => readSpread(r, s, at)),
    affinity: (o.affinity === undefined ? [] : r.objects(o.affinity, `${field}.affinity`, "affinities (label, value, weight)", AFFINITY_KEYS)).map(({ o: a, field: at }) => ({
      label: text(r, a.label, `${at}.label`),
      value: text(r, a.value, `${at}.value`),
      weight: typeof a.weight === "number" && Number.isInteger(a.weight) ? a.weight : a.weight === undefined ? 0 : (r.refuse(`${at}.weight`, `an integer from -100 to 100, got ${show(a.weight)}`) ?? 0),
    })),
  };
  r.problems.push(...validatePlacement(p, kind, field));
  return r.problems.length > before ? undefined : p;
}

function readSpread(r: Reader, s: Record<string, unknown>, field: string): Placement["spread"][number] {
  const when = s.when_unsatisfiable === undefined ? undefined : r.choice(s.when_unsatisfiable, `${field}.when_unsatisfiable`, WHEN_UNSATISFIABLE, "schedule or wait");
  return {
    label: text(r, s.label, `${field}.label`),
    weight: orZero(r, s.weight, `${field}.weight`, 0, 100),
    targets: (s.targets === undefined ? [] : r.objects(s.targets, `${field}.targets`, "targets (value, percent)", TARGET_KEYS)).map(({ o: t, field: tf }) => ({ value: text(r, t.value, `${tf}.value`), percent: orZero(r, t.percent, `${tf}.percent`, 0, 100) })),
    // The wire's numbers: 0 unset, 1 schedule, 2 wait.
    whenUnsatisfiable: when === undefined ? 0 : WHEN_UNSATISFIABLE.indexOf(when) + 1,
  };
}

/** Placement's fields are checked whole by validatePlacement: a refused one reads as empty meanwhile. */
function text(r: Reader, v: unknown, field: string): string {
  return typeof v === "string" ? v : (r.refuse(field, `a string, got ${show(v)}`) ?? "");
}

function orZero(r: Reader, v: unknown, field: string, min: number, max: number): number {
  return v === undefined ? 0 : (r.integer(v, field, min, max) ?? 0);
}

/** Every replica name a crash may name, in the scenario's order: a system workload's copies are numbered as nodes take them, up to one per node. */
function replicaNames(workloads: readonly WorkloadMix[], fleet: readonly NodeGroup[]): string[] {
  return workloads.flatMap((w) => workloadNames(w).flatMap((n) => Array.from({ length: w.kind === "system" ? totalNodes(fleet) : w.replicas }, (_, k) => `${n}-${k}`)));
}

/** The failure schedule, sorted by time; events at the same time keep the file's order. */
function readFailures(r: Reader, v: unknown, fleet: readonly NodeGroup[], nodes: ReadonlySet<string>, workloads: readonly WorkloadMix[]): Failure[] {
  const failures: Failure[] = [];
  const services = workloads.filter((w) => w.kind === "service").flatMap(workloadNames);
  const replicas = new Set(replicaNames(workloads, fleet));
  const events = v === undefined ? [] : r.objects(v, "failures", "failure events", FAILURE_KEYS);
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
      const fails = o.fails === undefined ? false : r.boolean(o.fails, `${field}.fails`);
      if (typeof o.rollout !== "string" || !services.includes(o.rollout)) r.refuse(`${field}.rollout`, `a service workload of the scenario (like ${services[0] ?? "web"}), got ${show(o.rollout)}`);
      else if (at !== undefined && fails !== undefined) failures.push({ at, rollout: o.rollout, fails });
      return;
    }
    if (kind === "crash") {
      if (typeof o.crash !== "string" || !replicas.has(o.crash)) r.refuse(`${field}.crash`, `a replica of a workload (like ${[...replicas][0] ?? "web-0"}), got ${show(o.crash)}`);
      else if (at !== undefined) failures.push({ at, crash: o.crash });
      return;
    }
    const sel = readSelection(r, o[kind], `${field}.${kind}`, fleet, nodes);
    if (at !== undefined && sel !== undefined) failures.push(kind === "kill" ? { at, kill: sel } : { at, restore: sel });
  });
  // Stable: events at the same time keep the file's order.
  return failures.sort((a, b) => a.at - b.at);
}

/** The nodes a kill or restore names: by name, or a count of a group. */
function readSelection(r: Reader, v: unknown, field: string, fleet: readonly NodeGroup[], nodes: ReadonlySet<string>): NodeSelection | undefined {
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
}

/** The run's length: `duration`, at least the last failure's time; unset, a while after it. */
function readDuration(r: Reader, v: unknown, failures: readonly Failure[]): number {
  const last = failures.at(-1)?.at ?? 0;
  const settled = Math.min(MAX_SIM_DURATION_MS, last + SETTLE_AFTER_MS);
  if (v === undefined) return settled;
  const d = r.duration(v, "duration");
  if (d !== undefined && d < last) r.refuse("duration", `at least the last failure's time (${last / 1000}s), got ${v as string}`);
  else if (d !== undefined) return d;
  return settled;
}
