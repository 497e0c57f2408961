/**
 * The input of `tessera sim` when it plans a fleet's cost: node pools with their prices and
 * boot times, a demand forecast, and the lifecycle strategies to compare. PURE. A document
 * with `pools` and `demand` is a cost scenario; one with `fleet` and `workloads` is a placement
 * scenario (sim-scenario.ts), read with the same Reader: every refusal names the field path
 * and what was expected (`pools[0].price_per_hour: expected a non-negative number, got -1`).
 */
import type { Capacity } from "../core/model/cluster-state.js";
import { MAX_SIM_NODES, MAX_SIM_REPLICAS, nodeNames, Reader, show } from "./sim-scenario.js";
import { copiesPerNode } from "./pool-lifecycle.js";
import type { Rejection } from "../core/model/rejections.js";
import { SPEC_DEFAULTS } from "../core/model/spec.js";
import { MAX_CPU_MILLIS, MAX_MEMORY_MB, validateName } from "../core/model/validate.js";

/**
 * How a pool's nodes are kept. always-on: all its nodes run from the start. scale-to-fit: nodes
 * boot when copies wait and are released after `idle_release` empty. stopped-pool: the same,
 * but its nodes are stopped (and start again) instead of released. spot: scale-to-fit at the
 * spot price, nodes interrupted at the pool's rate and their copies rescheduled. hybrid: an
 * always-on baseline plus scale-to-fit overflow.
 */
export const LIFECYCLES = ["always-on", "scale-to-fit", "stopped-pool", "spot", "hybrid"] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

export const OBJECTIVES = ["cheapest-within-wait", "cheapest", "fastest"] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** A week is the run people plan for; a month bounds the work. */
export const MAX_COST_DURATION_MS = 31 * 24 * 3_600_000;
export const DAY_MS = 24 * 3_600_000;
export const DEFAULT_IDLE_RELEASE_MS = 10 * 60_000;
export const DEFAULT_MAX_P95_WAIT_MS = 5 * 60_000;

export interface NodePool {
  /** Its nodes are `<name>-0`, `<name>-1`, … */
  name: string;
  /** The most nodes it holds at once (all of them, always on). */
  count: number;
  capacity: Capacity;
  labels: Record<string, string>;
  pricePerHour: number;
  /** From asking for a node to its agent connecting. */
  bootMs: number;
  /** Set when its nodes can be stopped: what a start takes, and what a stopped node costs. */
  stoppable?: { startMs: number; pricePerHour: number };
  /** Set when it offers spot nodes: their price, and interruptions per node-hour. */
  spot?: { pricePerHour: number; interruptionsPerHour: number };
  /** How long a node stays empty before scale-to-fit lets it go. */
  idleReleaseMs: number;
  /** Nodes a hybrid pool keeps on; unset: as many as the forecast's lowest demand needs. */
  baseline?: number;
}

/** From `at` on, the workload wants `replicas` copies. */
export interface DemandStep {
  at: number;
  replicas: number;
}

export interface Demand {
  workload: string;
  resources: Capacity;
  nodeSelector: Record<string, string>;
  /** Over the whole run, sorted by time (a daily curve repeated day after day); none before the first. */
  steps: DemandStep[];
}

/** A combination to compare: a lifecycle per pool. */
export interface LifecyclePlan {
  name: string;
  pools: Record<string, Lifecycle>;
}

export interface CostScenario {
  pools: NodePool[];
  demand: Demand[];
  durationMs: number;
  /** Seeds spot interruptions: the same seed, the same interruptions. */
  seed: number;
  objective: Objective;
  maxP95WaitMs: number;
  plans: LifecyclePlan[];
}

export type CostScenarioResult = { scenario: CostScenario } | { problems: Rejection[] };

/** Whether a document is a cost scenario rather than a placement one. */
export function isCostScenario(doc: unknown): boolean {
  return typeof doc === "object" && doc !== null && !Array.isArray(doc) && ("pools" in doc || "demand" in doc);
}

/** Whether a pool can be kept the way a lifecycle asks. */
export function supports(pool: NodePool, lifecycle: Lifecycle): boolean {
  if (lifecycle === "stopped-pool") return pool.stoppable !== undefined;
  if (lifecycle === "spot") return pool.spot !== undefined;
  return true;
}

const SCENARIO_KEYS = ["pools", "demand", "duration", "seed", "objective", "max_p95_wait", "strategies"] as const;
const POOL_KEYS = ["name", "count", "cpu_millis", "memory_mb", "labels", "price_per_hour", "boot", "stoppable", "start", "stopped_price_per_hour", "spot_price_per_hour", "spot_interruptions_per_hour", "idle_release", "baseline"] as const;
const DEMAND_KEYS = ["workload", "resources", "node_selector", "series", "daily"] as const;
const RESOURCE_KEYS = ["cpu_millis", "memory_mb"] as const;
const STEP_KEYS = ["at", "replicas"] as const;
const PLAN_KEYS = ["name", "pools"] as const;

function money(r: Reader, v: unknown, field: string): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : r.refuse(field, `a non-negative number, got ${show(v)}`);
}

/** Reads a cost scenario from a parsed document; every problem is reported, not just the first. */
export function parseCostScenario(doc: unknown): CostScenarioResult {
  const r = new Reader();
  const root = r.object(doc, "scenario", SCENARIO_KEYS);
  if (root === undefined) return { problems: r.problems };

  let durationMs = 7 * DAY_MS;
  if (root.duration !== undefined) durationMs = r.duration(root.duration, "duration", MAX_COST_DURATION_MS) ?? durationMs;

  const pools: NodePool[] = [];
  r.objects(root.pools, "pools", "node pools (name, count, cpu_millis, memory_mb, price_per_hour, boot, ...)", POOL_KEYS, "at least one node pool").forEach(({ o, field }) => {
    const name = r.name(o.name, `${field}.name`);
    const count = r.integer(o.count, `${field}.count`, 1, MAX_SIM_NODES);
    const cpuMillis = r.integer(o.cpu_millis, `${field}.cpu_millis`, 1, MAX_CPU_MILLIS);
    const memoryMb = r.integer(o.memory_mb, `${field}.memory_mb`, 1, MAX_MEMORY_MB);
    const labels = r.labels(o.labels, `${field}.labels`);
    const pricePerHour = money(r, o.price_per_hour, `${field}.price_per_hour`);
    const bootMs = r.duration(o.boot, `${field}.boot`, MAX_COST_DURATION_MS);
    const idleReleaseMs = o.idle_release === undefined ? DEFAULT_IDLE_RELEASE_MS : r.duration(o.idle_release, `${field}.idle_release`, MAX_COST_DURATION_MS);
    const stoppable = o.stoppable === undefined ? false : r.boolean(o.stoppable, `${field}.stoppable`);
    let stopped: NodePool["stoppable"];
    if (stoppable) {
      const startMs = r.duration(o.start, `${field}.start`, MAX_COST_DURATION_MS);
      const stoppedPrice = o.stopped_price_per_hour === undefined ? 0 : money(r, o.stopped_price_per_hour, `${field}.stopped_price_per_hour`);
      if (startMs !== undefined && stoppedPrice !== undefined) stopped = { startMs, pricePerHour: stoppedPrice };
    } else {
      if (o.start !== undefined) r.refuse(`${field}.start`, "none unless stoppable: true");
      if (o.stopped_price_per_hour !== undefined) r.refuse(`${field}.stopped_price_per_hour`, "none unless stoppable: true");
    }
    let spot: NodePool["spot"];
    if (o.spot_price_per_hour !== undefined) {
      const spotPrice = money(r, o.spot_price_per_hour, `${field}.spot_price_per_hour`);
      const rate = o.spot_interruptions_per_hour === undefined ? 0 : money(r, o.spot_interruptions_per_hour, `${field}.spot_interruptions_per_hour`);
      if (spotPrice !== undefined && rate !== undefined) spot = { pricePerHour: spotPrice, interruptionsPerHour: rate };
    } else if (o.spot_interruptions_per_hour !== undefined) r.refuse(`${field}.spot_interruptions_per_hour`, "none without spot_price_per_hour");
    const baseline = o.baseline === undefined ? undefined : r.integer(o.baseline, `${field}.baseline`, 0, count ?? MAX_SIM_NODES);
    if (name === undefined || count === undefined || cpuMillis === undefined || memoryMb === undefined || labels === undefined || pricePerHour === undefined || bootMs === undefined || idleReleaseMs === undefined) return;
    if (pools.some((p) => p.name === name)) {
      r.refuse(`${field}.name`, `a name not used by another pool, got "${name}" twice`);
      return;
    }
    const tooLong = validateName(nodeNames({ name, count }).at(-1)!, `${field}.name`);
    if (tooLong) {
      r.problems.push(tooLong);
      return;
    }
    pools.push({ name, count, capacity: { cpuMillis, memoryMb }, labels, pricePerHour, bootMs, idleReleaseMs, ...(stopped ? { stoppable: stopped } : {}), ...(spot ? { spot } : {}), ...(baseline !== undefined ? { baseline } : {}) });
  });
  const totalNodes = pools.reduce((n, p) => n + p.count, 0);
  if (totalNodes > MAX_SIM_NODES) r.refuse("pools", `at most ${MAX_SIM_NODES} nodes in all, got ${totalNodes}`);

  const demand: Demand[] = [];
  r.objects(root.demand, "demand", "workloads' forecasts (workload, resources, node_selector, series or daily)", DEMAND_KEYS, "at least one workload's forecast").forEach(({ o, field }) => {
    const workload = r.name(o.workload, `${field}.workload`);
    const res = o.resources === undefined ? {} : r.object(o.resources, `${field}.resources`, RESOURCE_KEYS);
    const cpuMillis = res?.cpu_millis === undefined ? SPEC_DEFAULTS.cpuMillis : r.integer(res.cpu_millis, `${field}.resources.cpu_millis`, 1, MAX_CPU_MILLIS);
    const memoryMb = res?.memory_mb === undefined ? SPEC_DEFAULTS.memoryMb : r.integer(res.memory_mb, `${field}.resources.memory_mb`, 1, MAX_MEMORY_MB);
    const nodeSelector = r.labels(o.node_selector, `${field}.node_selector`);
    if ((o.series === undefined) === (o.daily === undefined)) {
      r.refuse(field, "either series (replicas at times over the run) or daily (replicas at times of day, every day)");
      return;
    }
    const daily = o.daily !== undefined;
    const key = daily ? "daily" : "series";
    const points: DemandStep[] = [];
    r.objects(o[key], `${field}.${key}`, "steps (at, replicas)", STEP_KEYS, "at least one step").forEach((s) => {
      const at = r.duration(s.o.at, `${s.field}.at`, daily ? DAY_MS - 1 : durationMs);
      const replicas = r.integer(s.o.replicas, `${s.field}.replicas`, 0, MAX_SIM_REPLICAS);
      if (at !== undefined && replicas !== undefined) points.push({ at, replicas });
    });
    points.sort((a, b) => a.at - b.at);
    if (workload === undefined || res === undefined || cpuMillis === undefined || memoryMb === undefined || nodeSelector === undefined) return;
    if (demand.some((d) => d.workload === workload)) {
      r.refuse(`${field}.workload`, `a name not used by another forecast, got "${workload}" twice`);
      return;
    }
    // A copy no pool's node can take would wait the whole run under every strategy: a typo, most likely.
    if (pools.length > 0 && !pools.some((p) => copiesPerNode(p, { resources: { cpuMillis, memoryMb }, nodeSelector }) > 0)) {
      r.refuse(field, `a workload some pool's nodes can take (labels and size), got ${cpuMillis}m and ${memoryMb} MB${Object.keys(nodeSelector).length > 0 ? ` on ${Object.entries(nodeSelector).map(([k, v]) => `${k}=${v}`).join(",")}` : ""}`);
      return;
    }
    const steps = daily ? repeatDaily(points, durationMs) : points;
    demand.push({ workload, resources: { cpuMillis, memoryMb }, nodeSelector, steps });
  });
  const peak = demand.reduce((n, d) => n + Math.max(0, ...d.steps.map((s) => s.replicas)), 0);
  if (peak > MAX_SIM_REPLICAS) r.refuse("demand", `at most ${MAX_SIM_REPLICAS} replicas in all, got a peak of ${peak}`);

  const seed = root.seed === undefined ? 1 : r.integer(root.seed, "seed", 0, 2 ** 32 - 1);
  const objective = root.objective === undefined ? "cheapest-within-wait" : OBJECTIVES.find((x) => x === root.objective);
  if (objective === undefined) r.refuse("objective", `${OBJECTIVES.join(", ")}, got ${show(root.objective)}`);
  const maxP95WaitMs = root.max_p95_wait === undefined ? DEFAULT_MAX_P95_WAIT_MS : r.duration(root.max_p95_wait, "max_p95_wait", MAX_COST_DURATION_MS);

  const plans: LifecyclePlan[] = [];
  if (root.strategies === undefined) {
    // Each lifecycle over every pool, where every pool can be kept that way.
    for (const l of LIFECYCLES) if (pools.length > 0 && pools.every((p) => supports(p, l))) plans.push({ name: l, pools: Object.fromEntries(pools.map((p) => [p.name, l])) });
  } else {
    r.objects(root.strategies, "strategies", "combinations (name, pools: a lifecycle per pool)", PLAN_KEYS, "at least one combination").forEach(({ o, field }) => {
      const name = typeof o.name === "string" && o.name !== "" ? o.name : r.refuse(`${field}.name`, `a name, got ${show(o.name)}`);
      const chosen = r.object(o.pools, `${field}.pools`, pools.map((p) => p.name));
      if (name === undefined || chosen === undefined) return;
      if (plans.some((p) => p.name === name)) {
        r.refuse(`${field}.name`, `a name not used by another combination, got "${name}" twice`);
        return;
      }
      const byPool: Record<string, Lifecycle> = {};
      for (const pool of pools) {
        const v = chosen[pool.name];
        const l = LIFECYCLES.find((x) => x === v);
        if (l === undefined) r.refuse(`${field}.pools.${pool.name}`, `${LIFECYCLES.join(", ")}, got ${show(v)}`);
        else if (!supports(pool, l)) r.refuse(`${field}.pools.${pool.name}`, `a lifecycle the pool supports (${l === "spot" ? "spot needs spot_price_per_hour" : "stopped-pool needs stoppable: true"}), got ${l}`);
        else byPool[pool.name] = l;
      }
      if (Object.keys(byPool).length === pools.length) plans.push({ name, pools: byPool });
    });
  }
  if (root.strategies === undefined && plans.length === 0 && r.problems.length === 0) r.refuse("pools", "pools some lifecycle applies to");

  if (r.problems.length > 0 || seed === undefined || objective === undefined || maxP95WaitMs === undefined) return { problems: r.problems };
  return { scenario: { pools, demand, durationMs, seed, objective, maxP95WaitMs, plans } };
}

/** A day's steps, day after day, up to the run's end: a day's last step holds until the next day's first, from midnight on the first day too. */
function repeatDaily(day: DemandStep[], durationMs: number): DemandStep[] {
  const last = day.at(-1);
  const out: DemandStep[] = last !== undefined && day[0]!.at > 0 ? [{ at: 0, replicas: last.replicas }] : [];
  for (let start = 0; start < durationMs; start += DAY_MS) {
    for (const s of day) if (start + s.at < durationMs) out.push({ at: start + s.at, replicas: s.replicas });
  }
  return out;
}
