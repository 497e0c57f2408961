/**
 * The input of `tessera sim` when it plans a fleet's cost: node pools with their prices and
 * boot times, a demand forecast, and the lifecycle strategies to compare. PURE. A document
 * with `pools` and `demand` is a cost scenario; one with `fleet` and `workloads` is a placement
 * scenario (sim-scenario.ts). Both are read with the scenario reader (scenario-reader.ts), in
 * named steps: the pools, the demand, the objective, the combinations.
 */
import type { Capacity } from "../core/model/cluster-state.js";
import type { Rejection } from "../core/model/rejections.js";
import { copiesPerNode } from "./pool-lifecycle.js";
import { Reader, show } from "./scenario-reader.js";
import { MAX_SIM_NODES, MAX_SIM_REPLICAS, type NodeGroup, nodeNames } from "./sim-scenario.js";

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

/** Its nodes are named as a placement scenario's group's are. */
export interface NodePool extends NodeGroup {
  /** The most nodes it holds at once (all of them, always on). */
  count: number;
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

/** What a forecast wants at `t`: its last step at or before `t`, none before its first. */
export function replicasAt(d: Demand, t: number): number {
  let r = 0;
  for (const s of d.steps) {
    if (s.at > t) break;
    r = s.replicas;
  }
  return r;
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
const STEP_KEYS = ["at", "replicas"] as const;
const PLAN_KEYS = ["name", "pools"] as const;

/** Reads a cost scenario from a parsed document; every problem is reported, not just the first. */
export function parseCostScenario(doc: unknown): CostScenarioResult {
  const r = new Reader(MAX_COST_DURATION_MS);
  const root = r.object(doc, "scenario", SCENARIO_KEYS);
  if (root === undefined) return { problems: r.problems };
  const durationMs = (root.duration === undefined ? undefined : r.duration(root.duration, "duration")) ?? 7 * DAY_MS;
  const pools = readPools(r, root.pools);
  const demand = readDemand(r, root.demand, pools, durationMs);
  const seed = root.seed === undefined ? 1 : r.integer(root.seed, "seed", 0, 2 ** 32 - 1);
  const objective = root.objective === undefined ? "cheapest-within-wait" : r.choice(root.objective, "objective", OBJECTIVES);
  const maxP95WaitMs = root.max_p95_wait === undefined ? DEFAULT_MAX_P95_WAIT_MS : r.duration(root.max_p95_wait, "max_p95_wait");
  const plans = root.strategies === undefined ? everyLifecycle(r, pools) : readPlans(r, root.strategies, pools);
  if (r.problems.length > 0 || seed === undefined || objective === undefined || maxP95WaitMs === undefined) return { problems: r.problems };
  return { scenario: { pools, demand, durationMs, seed, objective, maxP95WaitMs, plans } };
}

function readPools(r: Reader, v: unknown): NodePool[] {
  const pools: NodePool[] = [];
  r.objects(v, "pools", "node pools (name, count, cpu_millis, memory_mb, price_per_hour, boot, ...)", POOL_KEYS, "at least one node pool").forEach(({ o, field }) => {
    const pool = readPool(r, o, field);
    if (pool === undefined || !r.unused(pool.name, pools.map((p) => p.name), `${field}.name`, "pool")) return;
    if (r.fits(nodeNames(pool).at(-1)!, `${field}.name`)) pools.push(pool);
  });
  const total = pools.reduce((n, p) => n + p.count, 0);
  if (total > MAX_SIM_NODES) r.refuse("pools", `at most ${MAX_SIM_NODES} nodes in all, got ${total}`);
  return pools;
}

/** One entry of `pools`: its nodes, their price and boot time, and how they may be stopped or bought as spot. */
function readPool(r: Reader, o: Record<string, unknown>, field: string): NodePool | undefined {
  const { name, count, capacity, labels } = r.group(o, field, MAX_SIM_NODES);
  const pricePerHour = r.money(o.price_per_hour, `${field}.price_per_hour`);
  const bootMs = r.duration(o.boot, `${field}.boot`);
  const idleReleaseMs = o.idle_release === undefined ? DEFAULT_IDLE_RELEASE_MS : r.duration(o.idle_release, `${field}.idle_release`);
  const stoppable = readStoppable(r, o, field);
  const spot = readSpot(r, o, field);
  const baseline = o.baseline === undefined ? undefined : r.integer(o.baseline, `${field}.baseline`, 0, count ?? MAX_SIM_NODES);
  if (name === undefined || count === undefined || capacity === undefined || labels === undefined || pricePerHour === undefined || bootMs === undefined || idleReleaseMs === undefined) return undefined;
  return { name, count, capacity, labels, pricePerHour, bootMs, idleReleaseMs, ...(stoppable ? { stoppable } : {}), ...(spot ? { spot } : {}), ...(baseline !== undefined ? { baseline } : {}) };
}

/** `stoppable: true` with its start time and stopped price; start and stopped_price_per_hour are refused without it. */
function readStoppable(r: Reader, o: Record<string, unknown>, field: string): NodePool["stoppable"] {
  const stoppable = o.stoppable === undefined ? false : r.boolean(o.stoppable, `${field}.stoppable`);
  if (!stoppable) {
    if (o.start !== undefined) r.refuse(`${field}.start`, "none unless stoppable: true");
    if (o.stopped_price_per_hour !== undefined) r.refuse(`${field}.stopped_price_per_hour`, "none unless stoppable: true");
    return undefined;
  }
  const startMs = r.duration(o.start, `${field}.start`);
  const pricePerHour = o.stopped_price_per_hour === undefined ? 0 : r.money(o.stopped_price_per_hour, `${field}.stopped_price_per_hour`);
  return startMs === undefined || pricePerHour === undefined ? undefined : { startMs, pricePerHour };
}

/** spot_price_per_hour with its interruption rate; the rate is refused without the price. */
function readSpot(r: Reader, o: Record<string, unknown>, field: string): NodePool["spot"] {
  if (o.spot_price_per_hour === undefined) {
    if (o.spot_interruptions_per_hour !== undefined) r.refuse(`${field}.spot_interruptions_per_hour`, "none without spot_price_per_hour");
    return undefined;
  }
  const pricePerHour = r.money(o.spot_price_per_hour, `${field}.spot_price_per_hour`);
  const interruptionsPerHour = o.spot_interruptions_per_hour === undefined ? 0 : r.money(o.spot_interruptions_per_hour, `${field}.spot_interruptions_per_hour`);
  return pricePerHour === undefined || interruptionsPerHour === undefined ? undefined : { pricePerHour, interruptionsPerHour };
}

function readDemand(r: Reader, v: unknown, pools: readonly NodePool[], durationMs: number): Demand[] {
  const demand: Demand[] = [];
  r.objects(v, "demand", "workloads' forecasts (workload, resources, node_selector, series or daily)", DEMAND_KEYS, "at least one workload's forecast").forEach(({ o, field }) => {
    const d = readForecast(r, o, field, durationMs);
    if (d === undefined || !r.unused(d.workload, demand.map((x) => x.workload), `${field}.workload`, "forecast")) return;
    // A copy no pool's node can take would wait the whole run under every strategy: a typo, most likely.
    if (pools.length > 0 && !pools.some((p) => copiesPerNode(p, d) > 0)) {
      const on = Object.keys(d.nodeSelector).length > 0 ? ` on ${Object.entries(d.nodeSelector).map(([k, v]) => `${k}=${v}`).join(",")}` : "";
      r.refuse(field, `a workload some pool's nodes can take (labels and size), got ${d.resources.cpuMillis}m and ${d.resources.memoryMb} MB${on}`);
      return;
    }
    demand.push(d);
  });
  const peak = demand.reduce((n, d) => n + Math.max(0, ...d.steps.map((s) => s.replicas)), 0);
  if (peak > MAX_SIM_REPLICAS) r.refuse("demand", `at most ${MAX_SIM_REPLICAS} replicas in all, got a peak of ${peak}`);
  return demand;
}

/** One entry of `demand`: a workload's shape and its steps over the run (a daily curve repeated). */
function readForecast(r: Reader, o: Record<string, unknown>, field: string, durationMs: number): Demand | undefined {
  const workload = r.name(o.workload, `${field}.workload`);
  const resources = r.resources(o.resources, `${field}.resources`);
  const nodeSelector = r.labels(o.node_selector, `${field}.node_selector`);
  if ((o.series === undefined) === (o.daily === undefined)) return r.refuse(field, "either series (replicas at times over the run) or daily (replicas at times of day, every day)");
  const daily = o.daily !== undefined;
  const key = daily ? "daily" : "series";
  const points: DemandStep[] = [];
  r.objects(o[key], `${field}.${key}`, "steps (at, replicas)", STEP_KEYS, "at least one step").forEach((s) => {
    const at = r.duration(s.o.at, `${s.field}.at`, daily ? DAY_MS - 1 : durationMs);
    const replicas = r.integer(s.o.replicas, `${s.field}.replicas`, 0, MAX_SIM_REPLICAS);
    if (at !== undefined && replicas !== undefined) points.push({ at, replicas });
  });
  points.sort((a, b) => a.at - b.at);
  if (workload === undefined || resources === undefined || nodeSelector === undefined) return undefined;
  return { workload, resources, nodeSelector, steps: daily ? repeatDaily(points, durationMs) : points };
}

/** Without `strategies`: each lifecycle over every pool, where every pool can be kept that way. */
function everyLifecycle(r: Reader, pools: readonly NodePool[]): LifecyclePlan[] {
  const plans = LIFECYCLES.filter((l) => pools.length > 0 && pools.every((p) => supports(p, l))).map((l) => ({ name: l, pools: Object.fromEntries(pools.map((p) => [p.name, l])) }));
  if (plans.length === 0 && r.problems.length === 0) r.refuse("pools", "pools some lifecycle applies to");
  return plans;
}

/** `strategies`: named combinations, a lifecycle for each pool. */
function readPlans(r: Reader, v: unknown, pools: readonly NodePool[]): LifecyclePlan[] {
  const plans: LifecyclePlan[] = [];
  r.objects(v, "strategies", "combinations (name, pools: a lifecycle per pool)", PLAN_KEYS, "at least one combination").forEach(({ o, field }) => {
    const name = typeof o.name === "string" && o.name !== "" ? o.name : r.refuse(`${field}.name`, `a name, got ${show(o.name)}`);
    const chosen = r.object(o.pools, `${field}.pools`, pools.map((p) => p.name));
    if (name === undefined || chosen === undefined || !r.unused(name, plans.map((p) => p.name), `${field}.name`, "combination")) return;
    const byPool: Record<string, Lifecycle> = {};
    for (const pool of pools) {
      const at = `${field}.pools.${pool.name}`;
      const l = r.choice(chosen[pool.name], at, LIFECYCLES);
      if (l !== undefined && !supports(pool, l)) r.refuse(at, `a lifecycle the pool supports (${l === "spot" ? "spot needs spot_price_per_hour" : "stopped-pool needs stoppable: true"}), got ${l}`);
      else if (l !== undefined) byPool[pool.name] = l;
    }
    if (Object.keys(byPool).length === pools.length) plans.push({ name, pools: byPool });
  });
  return plans;
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
