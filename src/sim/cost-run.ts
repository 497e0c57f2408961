/**
 * Runs a cost scenario once per lifecycle combination and ranks them by the scenario's
 * objective: what a fleet kept that way costs, and how long copies wait for a node. PURE and
 * deterministic: the same scenario (its seed included) gives the same report.
 *
 * The real reconciler and placement decide (SimulatedFleet's writer turns, binpack so that
 * nodes empty out), the pools' lifecycle decisions come from pool-lifecycle.ts, and time moves
 * from one event to the next (a demand step, a boot done, an idle delay over, an interruption,
 * a dead node's silence long enough to be Offline), never tick by tick: a week is a few
 * thousand turns. Every turn carries a heartbeat from each live agent, so only the nodes that
 * were let go or interrupted fall silent.
 */
import type { Command } from "../core/decide/commands.js";
import { nodeUse } from "../core/model/cluster-status.js";
import { type CostScenario, type Demand, type Lifecycle, type LifecyclePlan, type NodePool, type Objective } from "./cost-scenario.js";
import { percentile } from "./percentile.js";
import { baselineNodes, interruptionAfterMs, planBoots, planReleases, type PoolRoom, type WaitingCopies } from "./pool-lifecycle.js";
import { DEFAULT_POLICY, type Policy } from "../core/reconcile/reconcile.js";
import { seededRandom } from "./seeded-random.js";
import { showMs, simSpec } from "./sim-run.js";
import { nodeNames } from "./sim-scenario.js";
import { type FleetNode, SimulatedFleet } from "./simulated-fleet.js";

/** Binpack empties nodes as demand falls, so scale-to-fit has nodes to let go. */
/** Killed nodes are known gone here: their copies are lost even when the whole fleet is. */
const COST_POLICY: Policy = { ...DEFAULT_POLICY, placement: "binpack", keepCopiesWhileNoNodeHeard: false };
const HOUR_MS = 3_600_000;
/** As SimulatedFleet.settle's bound: a moment that takes more turns than this is a bug. */
const MAX_SETTLE_TURNS = 50;

export interface WaitStats {
  /** Ms from a copy being wanted (or its node interrupted) to it Running; copies still waiting at the end count their wait so far. */
  p50: number;
  p95: number;
  max: number;
  copies: number;
}

/** The fleet at one moment of a run, for the plot. */
export interface CostSample {
  at: number;
  /** CPU the demand asks for, and the CPU of the nodes up (millicores). */
  demandCpu: number;
  capacityCpu: number;
  /** Spent so far. */
  cost: number;
}

export interface LifecycleReport {
  name: string;
  rank: number;
  pools: Record<string, Lifecycle>;
  /** price_per_hour × hours each node was booting, up or stopped. */
  cost: number;
  waitMs: WaitStats;
  meetsWaitBound: boolean;
  /** Integral of the copies wanted but not Running. */
  unschedulableReplicaMinutes: number;
  /** Nodes asked for (booted, or started from stopped). */
  boots: number;
  interruptions: number;
  /** Copies lost with an interrupted node and placed again. */
  reschedules: number;
  /** Time-weighted: CPU reserved by copies over the CPU of the nodes up. */
  utilizationPercent: number;
  samples: CostSample[];
}

export interface CostReport {
  durationMs: number;
  /** Nodes the pools may hold in all. */
  nodes: number;
  peakReplicas: number;
  objective: Objective;
  maxP95WaitMs: number;
  strategies: LifecycleReport[];
  summary: string;
}

/** Runs every combination of the scenario and ranks them. */
export function simulateCost(scenario: CostScenario): CostReport {
  const runs = scenario.plans.map((p) => runPlan(scenario, p));
  const order = (r: LifecycleReport) => scenario.plans.findIndex((p) => p.name === r.name);
  runs.sort((a, b) => compare(scenario, a, b) || order(a) - order(b));
  runs.forEach((r, i) => (r.rank = i + 1));
  return {
    durationMs: scenario.durationMs,
    nodes: scenario.pools.reduce((n, p) => n + p.count, 0),
    peakReplicas: peakReplicas(scenario.demand),
    objective: scenario.objective,
    maxP95WaitMs: scenario.maxP95WaitMs,
    strategies: runs,
    summary: describeTopTwo(scenario, runs),
  };
}

/** The objective's order: cheapest-within-wait puts the runs within the p95 bound first, cheapest first, then the rest fastest first. */
function compare(scenario: CostScenario, a: LifecycleReport, b: LifecycleReport): number {
  const byCost = a.cost - b.cost;
  const byP95 = a.waitMs.p95 - b.waitMs.p95;
  if (scenario.objective === "cheapest") return byCost || byP95;
  if (scenario.objective === "fastest") return byP95 || a.waitMs.max - b.waitMs.max || byCost;
  if (a.meetsWaitBound !== b.meetsWaitBound) return a.meetsWaitBound ? -1 : 1;
  return a.meetsWaitBound ? byCost || byP95 : byP95 || byCost;
}

/** 0.00, 12.34: prices are in whatever unit the scenario's are. */
export function showCost(cost: number): string {
  return cost.toFixed(2);
}

/** The first two runs by the scenario's objective, with their cost and p95 wait (and the wait bound, when it has one). */
function describeTopTwo(scenario: CostScenario, runs: LifecycleReport[]): string {
  const [first, second] = runs;
  if (first === undefined) return "no strategy simulated";
  const bound = scenario.objective === "cheapest-within-wait" ? ` (bound ${showMs(scenario.maxP95WaitMs)}${first.meetsWaitBound ? "" : ", which none meets"})` : "";
  const line = `${first.name} ranks first by ${scenario.objective}: cost ${showCost(first.cost)}, p95 wait ${showMs(first.waitMs.p95)}${bound}`;
  return second === undefined ? line : `${line}; next ${second.name}: cost ${showCost(second.cost)}, p95 wait ${showMs(second.waitMs.p95)}`;
}

function peakReplicas(demand: readonly Demand[]): number {
  const times = [...new Set(demand.flatMap((d) => d.steps.map((s) => s.at)))];
  return Math.max(0, ...times.map((t) => demand.reduce((n, d) => n + replicasAt(d, t), 0)));
}

/** What a forecast wants at `t`: its last step at or before `t`, none before its first. */
function replicasAt(d: Demand, t: number): number {
  let r = 0;
  for (const s of d.steps) {
    if (s.at > t) break;
    r = s.replicas;
  }
  return r;
}

type Phase = "off" | "stopped" | "coming" | "up";

interface SimNode {
  node: FleetNode;
  pool: PoolRun;
  phase: Phase;
  readyAt: number;
  /** When it was last seen holding no copy; null while it holds one or is not up. */
  idleSince: number | null;
  interruptAt: number;
  /** Cordoned when it was let go: uncordoned when it comes back. */
  cordoned: boolean;
}

interface PoolRun {
  pool: NodePool;
  lifecycle: Lifecycle;
  nodes: SimNode[];
  /** Nodes kept up whatever the demand (always-on: all; hybrid: its baseline). */
  keep: number;
  nextReleaseAt: number | undefined;
}

function priceOf(n: SimNode): number {
  if (n.phase === "off") return 0;
  if (n.phase === "stopped") return n.pool.pool.stoppable?.pricePerHour ?? 0;
  return n.pool.lifecycle === "spot" ? n.pool.pool.spot!.pricePerHour : n.pool.pool.pricePerHour;
}

function runPlan(scenario: CostScenario, lifecycles: LifecyclePlan): LifecycleReport {
  const fleet = new SimulatedFleet(COST_POLICY, undefined, false);
  const start = fleet.now;
  const random = seededRandom(scenario.seed);
  const pools: PoolRun[] = scenario.pools.map((pool) => {
    const lifecycle = lifecycles.pools[pool.name]!;
    const lowest = scenario.demand.map((d): WaitingCopies => ({ resources: d.resources, nodeSelector: d.nodeSelector, count: Math.min(...d.steps.map((s) => s.replicas), d.steps[0]!.at > 0 ? 0 : Infinity) }));
    const keep = lifecycle === "always-on" ? pool.count : lifecycle === "hybrid" ? Math.min(pool.count, pool.baseline ?? baselineNodes(pool, lowest)) : 0;
    const run: PoolRun = { pool, lifecycle, nodes: [], keep, nextReleaseAt: undefined };
    run.nodes = nodeNames(pool).map((name, i): SimNode => ({
      node: { name, capacity: pool.capacity, labels: pool.labels },
      pool: run,
      phase: i < keep ? "up" : lifecycle === "stopped-pool" ? "stopped" : "off",
      readyAt: 0,
      idleSince: null,
      interruptAt: Number.POSITIVE_INFINITY,
      cordoned: false,
    }));
    return run;
  });
  const nodes = pools.flatMap((p) => p.nodes);
  const byName = new Map(nodes.map((n) => [n.node.name, n]));

  /** Replica names (`web-3`) wanted and not Running, and since when. */
  const waiting = new Map<string, number>();
  const waits: number[] = [];
  const killedAt = new Map<string, number>();
  let reschedules = 0;
  let now = 0;
  fleet.onTurn = (r) => {
    for (const lost of r.plan?.markLost ?? []) {
      const inst = fleet.state.instances.get(lost.instance)!;
      reschedules++;
      // A copy the demand has stopped wanting since its node went is not waited for.
      if (inst.index < wanted.get(inst.workload)! && !waiting.has(inst.name)) waiting.set(inst.name, killedAt.get(lost.node) ?? now);
    }
    for (const e of r.events) {
      if (e.type !== "InstanceTransitioned" || e.event.type !== "run") continue;
      const name = fleet.state.instances.get(e.id)?.name;
      const since = name === undefined ? undefined : waiting.get(name);
      if (since === undefined) continue;
      waits.push(now - since);
      waiting.delete(name!);
    }
  };

  const wanted = new Map(scenario.demand.map((d) => [d.workload, 0]));
  const shapes = new Map(scenario.demand.map((d) => [d.workload, d]));
  const applyDemand = (d: Demand, replicas: number): Command => {
    const before = wanted.get(d.workload)!;
    for (let i = before; i < replicas; i++) if (!waiting.has(`${d.workload}-${i}`)) waiting.set(`${d.workload}-${i}`, now);
    for (let i = replicas; i < before; i++) waiting.delete(`${d.workload}-${i}`);
    wanted.set(d.workload, replicas);
    const mix = { name: d.workload, count: 1, kind: "service" as const, replicas, parallelism: 1, resources: d.resources, nodeSelector: d.nodeSelector };
    return { type: "ApplyWorkload", name: d.workload, labels: {}, spec: simSpec(mix, 0) };
  };
  const changes = [...new Set(scenario.demand.flatMap((d) => d.steps.map((s) => s.at)))].filter((t) => t > 0).sort((a, b) => a - b);
  let nextChange = 0;
  const offlineChecks: number[] = [];

  const commands: Command[] = [];
  /** Whether the reconciler has something new to see: a command, an agent's hello, a silence long enough to be Offline. */
  let needTurn = true;
  const bringUp = (n: SimNode) => {
    n.phase = "up";
    n.idleSince = now;
    // A fresh machine (or a started one) holds no copy: its agent's hello says so.
    fleet.held.get(n.node.name)?.clear();
    fleet.connect(n.node);
    // Let go earlier: cordoned then, taking copies again now (after its hello, in the same turn).
    if (n.cordoned) commands.push({ type: "UncordonNode", node: n.node.name });
    n.cordoned = false;
    needTurn = true;
    if (n.pool.lifecycle === "spot") n.interruptAt = now + interruptionAfterMs(random, n.pool.pool.spot!.interruptionsPerHour);
  };

  // t = 0: the nodes kept up are there already; the demand arrives.
  for (const n of nodes) if (n.phase === "up") bringUp(n);
  for (const d of scenario.demand) commands.push(applyDemand(d, replicasAt(d, 0)));

  let cost = 0;
  let waitingMinutes = 0;
  let reservedCpuMs = 0;
  let upCpuMs = 0;
  let boots = 0;
  let interruptions = 0;
  const samples: CostSample[] = [];
  let rate = { price: 0, reservedCpu: 0, upCpu: 0 };

  for (;;) {
    if (needTurn) {
      // Agents answer at once and only to effects, and a turn reconciles what it took in: a turn
      // that asked nothing of the agents leaves nothing for another turn.
      let r = fleet.turn([...fleet.heartbeats(), ...commands]);
      for (let k = 0; r.effects.length > 0; k++) {
        if (k === MAX_SETTLE_TURNS) throw new Error(`the fleet did not settle within ${MAX_SETTLE_TURNS} turns at ${now} ms`);
        r = fleet.turn();
      }
      commands.length = 0;
      needTurn = false;
    }

    // What the fleet looks like now; idle nodes and waiting copies drive the pools.
    const use = nodeUse(fleet.state);
    let reservedCpu = 0;
    for (const n of nodes) {
      if (n.phase !== "up") continue;
      const u = use.get(n.node.name);
      reservedCpu += u?.allocated.cpuMillis ?? 0;
      if (u !== undefined && u.instances.length > 0) n.idleSince = null;
      else n.idleSince ??= now;
    }
    const released: string[] = [];
    for (const p of pools) {
      if (p.lifecycle === "always-on") continue;
      const up = p.nodes.filter((n) => n.phase === "up").map((n) => ({ name: n.node.name, idleSince: n.idleSince }));
      const r = planReleases(up, now, p.pool.idleReleaseMs, p.keep);
      p.nextReleaseAt = r.nextAt;
      for (const name of r.release) {
        const n = byName.get(name)!;
        n.phase = p.lifecycle === "stopped-pool" ? "stopped" : "off";
        n.idleSince = null;
        n.interruptAt = Number.POSITIVE_INFINITY;
        released.push(name);
      }
    }
    for (const name of released) {
      // Cordoned by the next turn, before its pass: nothing is placed on a node on its way out. Empty, it loses nothing when its silence makes it Offline.
      commands.push({ type: "CordonNode", node: name });
      byName.get(name)!.cordoned = true;
      fleet.kill(name);
    }
    const waitingByShape = new Map<string, number>();
    for (const inst of fleet.state.instances.values()) {
      if (inst.desired === "run" && inst.state === "pending") waitingByShape.set(inst.workload, (waitingByShape.get(inst.workload) ?? 0) + 1);
    }
    const scaling = pools.filter((p) => p.lifecycle !== "always-on");
    const rooms: PoolRoom[] = scaling.map((p) => ({
      name: p.pool.name,
      capacity: p.pool.capacity,
      labels: p.pool.labels,
      coming: p.nodes.filter((n) => n.phase === "coming").length,
      available: p.nodes.filter((n) => n.phase === (p.lifecycle === "stopped-pool" ? "stopped" : "off")).length,
    }));
    const boot = planBoots([...waitingByShape].map(([w, count]) => ({ resources: shapes.get(w)!.resources, nodeSelector: shapes.get(w)!.nodeSelector, count })), rooms);
    for (const p of scaling) {
      let k = boot.get(p.pool.name)!;
      const from = p.lifecycle === "stopped-pool" ? "stopped" : "off";
      for (const n of p.nodes) {
        if (k === 0) break;
        if (n.phase !== from) continue;
        n.phase = "coming";
        n.readyAt = now + (from === "stopped" ? p.pool.stoppable!.startMs : p.pool.bootMs);
        boots++;
        k--;
      }
    }

    const demandCpu = scenario.demand.reduce((c, d) => c + wanted.get(d.workload)! * d.resources.cpuMillis, 0);
    const upCpu = nodes.reduce((c, n) => c + (n.phase === "up" ? n.node.capacity.cpuMillis : 0), 0);
    rate = { price: nodes.reduce((c, n) => c + priceOf(n), 0), reservedCpu, upCpu };
    samples.push({ at: now, demandCpu, capacityCpu: upCpu, cost });

    // The next moment something happens.
    let next = scenario.durationMs;
    if (nextChange < changes.length) next = Math.min(next, changes[nextChange]!);
    for (const n of nodes) {
      if (n.phase === "coming") next = Math.min(next, n.readyAt);
      else if (n.phase === "up") next = Math.min(next, n.interruptAt);
    }
    for (const p of pools) if (p.nextReleaseAt !== undefined) next = Math.min(next, p.nextReleaseAt);
    for (const t of offlineChecks) next = Math.min(next, t);
    next = Math.max(next, now + 1);

    const dt = next - now;
    cost += (rate.price * dt) / HOUR_MS;
    waitingMinutes += (waiting.size * dt) / 60_000;
    reservedCpuMs += rate.reservedCpu * dt;
    upCpuMs += rate.upCpu * dt;
    if (next >= scenario.durationMs) {
      now = scenario.durationMs;
      break;
    }
    now = next;
    fleet.now = start + now;

    for (const n of nodes) if (n.phase === "coming" && n.readyAt <= now) bringUp(n);
    for (const n of nodes) {
      if (n.phase !== "up" || n.interruptAt > now) continue;
      n.phase = "off";
      n.idleSince = null;
      n.interruptAt = Number.POSITIVE_INFINITY;
      interruptions++;
      killedAt.set(n.node.name, now);
      fleet.kill(n.node.name);
      // Its copies are replaced once its silence makes it Offline.
      offlineChecks.push(now + COST_POLICY.offlineAfterMs + 1);
    }
    for (let i = offlineChecks.length - 1; i >= 0; i--) {
      if (offlineChecks[i]! > now) continue;
      offlineChecks.splice(i, 1);
      needTurn = true;
    }
    while (nextChange < changes.length && changes[nextChange]! <= now) {
      const t = changes[nextChange++]!;
      for (const d of scenario.demand) if (d.steps.some((s) => s.at === t)) commands.push(applyDemand(d, replicasAt(d, t)));
    }
    if (commands.length > 0) needTurn = true;
  }
  samples.push({ at: now, demandCpu: samples.at(-1)!.demandCpu, capacityCpu: samples.at(-1)!.capacityCpu, cost });

  for (const since of waiting.values()) waits.push(now - since);
  const waitMs: WaitStats = waits.length === 0 ? { p50: 0, p95: 0, max: 0, copies: 0 } : { p50: percentile(waits, 50), p95: percentile(waits, 95), max: Math.max(...waits), copies: waits.length };
  return {
    name: lifecycles.name,
    rank: 0,
    pools: lifecycles.pools,
    cost: round(cost, 4),
    waitMs,
    meetsWaitBound: waitMs.p95 <= scenario.maxP95WaitMs,
    unschedulableReplicaMinutes: round(waitingMinutes, 1),
    boots,
    interruptions,
    reschedules,
    utilizationPercent: upCpuMs === 0 ? 0 : round((100 * reservedCpuMs) / upCpuMs, 1),
    samples,
  };
}

function round(x: number, digits: number): number {
  return +x.toFixed(digits);
}
