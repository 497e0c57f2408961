/**
 * One lifecycle combination of a cost scenario run through simulated time (cost-run.ts runs
 * each and ranks them): what keeping the pools that way costs and how long copies wait for a
 * node. PURE and deterministic: the same scenario (its seed included), the same report.
 *
 * The real reconciler and placement decide (SimulatedFleet's writer turns, binpack so that
 * nodes empty out), the pools' lifecycle decisions come from pool-lifecycle.ts, and time moves
 * from one event to the next (a demand step, a boot done, an idle delay over, an interruption,
 * a dead node's silence long enough to be Offline), never tick by tick: a week is a few
 * thousand turns. Every turn carries a heartbeat from each live agent, so only the nodes that
 * were let go or interrupted fall silent.
 */
import type { Command } from "../core/decide/commands.js";
import { fleetHeartbeat } from "../core/model/heartbeat.js";
import { DEFAULT_POLICY, type Policy } from "../core/reconcile/reconcile.js";
import type { TurnResult } from "../core/reconcile/turn.js";
import { type CostScenario, type Demand, type Lifecycle, type LifecyclePlan, type NodePool, replicasAt } from "./cost-scenario.js";
import { percentile } from "./percentile.js";
import { baselineNodes, interruptionAfterMs, planBoots, planReleases, type PoolRoom, type WaitingCopies } from "./pool-lifecycle.js";
import { seededRandom } from "./seeded-random.js";
import { simSpec } from "./sim-run.js";
import { nodeNames } from "./sim-scenario.js";
import { type FleetNode, SimulatedFleet } from "./simulated-fleet.js";

/**
 * Binpack empties nodes as demand falls, so scale-to-fit has nodes to let go. Killed nodes are
 * known gone here: their copies are lost even when the whole fleet is.
 */
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

/** Runs the scenario with its pools kept as `plan` says, from the start to the scenario's end. */
export function runLifecycles(scenario: CostScenario, plan: LifecyclePlan): LifecycleReport {
  const run = new LifecycleRun(scenario, plan);
  for (;;) {
    run.settle();
    run.steerPools();
    const next = run.nextMoment();
    run.accrueUntil(next);
    if (next >= scenario.durationMs) return run.report();
    run.arrive();
  }
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

/** The pools at the start: the nodes kept up are up, a stopped pool's others stopped, the rest off. */
function startPools(scenario: CostScenario, plan: LifecyclePlan): PoolRun[] {
  const lowest = scenario.demand.map((d): WaitingCopies => ({ resources: d.resources, nodeSelector: d.nodeSelector, count: Math.min(...d.steps.map((s) => s.replicas), d.steps[0]!.at > 0 ? 0 : Infinity) }));
  return scenario.pools.map((pool) => {
    const lifecycle = plan.pools[pool.name]!;
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
}

function priceOf(n: SimNode): number {
  if (n.phase === "off") return 0;
  if (n.phase === "stopped") return n.pool.pool.stoppable?.pricePerHour ?? 0;
  return n.pool.lifecycle === "spot" ? n.pool.pool.spot!.pricePerHour : n.pool.pool.pricePerHour;
}

/** Where a pool's nodes wait when not up: stopped in a stopped pool, off in the others. */
function restingPhase(p: PoolRun): Phase {
  return p.lifecycle === "stopped-pool" ? "stopped" : "off";
}

/** A run's state, moved one moment at a time by runLifecycles: each method is one named step of a moment. */
class LifecycleRun {
  private readonly fleet = new SimulatedFleet(COST_POLICY, undefined, false);
  private readonly start = this.fleet.now;
  private readonly random: () => number;
  private readonly pools: PoolRun[];
  private readonly nodes: SimNode[];
  private readonly byName: Map<string, SimNode>;
  /** Replicas each workload wants now, and each workload's shape. */
  private readonly wanted: Map<string, number>;
  private readonly shapes: Map<string, Demand>;
  /** The times the demand changes, after the start, in order; `nextChange` is the first not yet applied. */
  private readonly changes: number[];
  private nextChange = 0;
  /** When an interrupted node's silence makes it Offline: a turn is due then. */
  private readonly offlineChecks: number[] = [];
  /** Replica names (`web-3`) wanted and not Running, and since when. */
  private readonly waiting = new Map<string, number>();
  private readonly waits: number[] = [];
  private readonly killedAt = new Map<string, number>();
  private readonly commands: Command[] = [];
  /** Whether the reconciler has something new to see: a command, an agent's hello, a silence long enough to be Offline. */
  private needTurn = true;
  private now = 0;
  private readonly totals = { cost: 0, waitingMinutes: 0, reservedCpuMs: 0, upCpuMs: 0, boots: 0, interruptions: 0, reschedules: 0 };
  /** What the fleet costs and holds per ms from the moment just steered on. */
  private rate = { price: 0, reservedCpu: 0, upCpu: 0 };
  private readonly samples: CostSample[] = [];

  constructor(
    private readonly scenario: CostScenario,
    private readonly plan: LifecyclePlan,
  ) {
    this.random = seededRandom(scenario.seed);
    this.pools = startPools(scenario, plan);
    this.nodes = this.pools.flatMap((p) => p.nodes);
    this.byName = new Map(this.nodes.map((n) => [n.node.name, n]));
    this.wanted = new Map(scenario.demand.map((d) => [d.workload, 0]));
    this.shapes = new Map(scenario.demand.map((d) => [d.workload, d]));
    this.changes = [...new Set(scenario.demand.flatMap((d) => d.steps.map((s) => s.at)))].filter((t) => t > 0).sort((a, b) => a - b);
    this.fleet.onTurn = (r) => this.watchTurn(r);
    // t = 0: the nodes kept up are there already; the demand arrives.
    for (const n of this.nodes) if (n.phase === "up") this.bringUp(n);
    for (const d of scenario.demand) this.commands.push(this.applyDemand(d, replicasAt(d, 0)));
  }

  /** Counts lost copies as waiting again (from their node's interruption), and the waits that end with a copy Running. */
  private watchTurn(r: TurnResult): void {
    for (const lost of r.plan?.markLost ?? []) {
      const inst = this.fleet.state.instances.get(lost.instance)!;
      this.totals.reschedules++;
      // A copy the demand has stopped wanting since its node went is not waited for.
      if (inst.index < this.wanted.get(inst.workload)! && !this.waiting.has(inst.name)) this.waiting.set(inst.name, this.killedAt.get(lost.node) ?? this.now);
    }
    for (const e of r.events) {
      if (e.type !== "InstanceTransitioned" || e.event.type !== "run") continue;
      const name = this.fleet.state.instances.get(e.id)?.name;
      const since = name === undefined ? undefined : this.waiting.get(name);
      if (since === undefined) continue;
      this.waits.push(this.now - since);
      this.waiting.delete(name!);
    }
  }

  /** The command that scales a forecast's workload to `replicas`; the copies it adds wait from now. */
  private applyDemand(d: Demand, replicas: number): Command {
    const before = this.wanted.get(d.workload)!;
    for (let i = before; i < replicas; i++) if (!this.waiting.has(`${d.workload}-${i}`)) this.waiting.set(`${d.workload}-${i}`, this.now);
    for (let i = replicas; i < before; i++) this.waiting.delete(`${d.workload}-${i}`);
    this.wanted.set(d.workload, replicas);
    const mix = { name: d.workload, count: 1, kind: "service" as const, replicas, parallelism: 1, resources: d.resources, nodeSelector: d.nodeSelector };
    return { type: "ApplyWorkload", name: d.workload, labels: {}, spec: simSpec(mix, 0) };
  }

  private bringUp(n: SimNode): void {
    n.phase = "up";
    n.idleSince = this.now;
    // A fresh machine (or a started one) holds no copy: its agent's hello says so.
    this.fleet.held.get(n.node.name)?.clear();
    this.fleet.connect(n.node);
    // Let go earlier: cordoned then, taking copies again now (after its hello, in the same turn).
    if (n.cordoned) this.commands.push({ type: "UncordonNode", node: n.node.name });
    n.cordoned = false;
    this.needTurn = true;
    if (n.pool.lifecycle === "spot") n.interruptAt = this.now + interruptionAfterMs(this.random, n.pool.pool.spot!.interruptionsPerHour);
  }

  /** Runs the turns this moment needs, if the reconciler has something new to see. */
  settle(): void {
    if (!this.needTurn) return;
    // Agents answer at once and only to effects, and a turn reconciles what it took in: a turn
    // that asked nothing of the agents leaves nothing for another turn.
    let r = this.fleet.turn([...this.fleet.heartbeats(), ...this.commands]);
    for (let k = 0; r.effects.length > 0; k++) {
      if (k === MAX_SETTLE_TURNS) throw new Error(`the fleet did not settle within ${MAX_SETTLE_TURNS} turns at ${this.now} ms`);
      r = this.fleet.turn();
    }
    this.commands.length = 0;
    this.needTurn = false;
  }

  /** What the fleet looks like now drives the pools: idle nodes are let go, waiting copies boot nodes; then the moment is sampled. */
  steerPools(): void {
    const reservedCpu = this.markIdle();
    this.releaseIdle();
    this.bootForWaiting();
    const demandCpu = this.scenario.demand.reduce((c, d) => c + this.wanted.get(d.workload)! * d.resources.cpuMillis, 0);
    const upCpu = this.nodes.reduce((c, n) => c + (n.phase === "up" ? n.node.capacity.cpuMillis : 0), 0);
    this.rate = { price: this.nodes.reduce((c, n) => c + priceOf(n), 0), reservedCpu, upCpu };
    this.samples.push({ at: this.now, demandCpu, capacityCpu: upCpu, cost: this.totals.cost });
  }

  /** Notes which up nodes hold no copy (and since when); returns the CPU the copies reserve. */
  private markIdle(): number {
    let reservedCpu = 0;
    for (const n of this.nodes) {
      if (n.phase !== "up") continue;
      const load = this.fleet.state.nodeLoad.get(n.node.name);
      reservedCpu += load?.cpuMillis ?? 0;
      if (load !== undefined) n.idleSince = null;
      else n.idleSince ??= this.now;
    }
    return reservedCpu;
  }

  /** Lets go the nodes empty past their pool's idle delay: stopped or off, cordoned, their agents silent. */
  private releaseIdle(): void {
    const released: string[] = [];
    for (const p of this.pools) {
      if (p.lifecycle === "always-on") continue;
      const up = p.nodes.filter((n) => n.phase === "up").map((n) => ({ name: n.node.name, idleSince: n.idleSince }));
      const r = planReleases(up, this.now, p.pool.idleReleaseMs, p.keep);
      p.nextReleaseAt = r.nextAt;
      for (const name of r.release) {
        const n = this.byName.get(name)!;
        n.phase = restingPhase(p);
        n.idleSince = null;
        n.interruptAt = Number.POSITIVE_INFINITY;
        released.push(name);
      }
    }
    for (const name of released) {
      // Cordoned by the next turn, before its pass: nothing is placed on a node on its way out. Empty, it loses nothing when its silence makes it Offline.
      this.commands.push({ type: "CordonNode", node: name });
      this.byName.get(name)!.cordoned = true;
      this.fleet.kill(name);
    }
  }

  /** Boots (or starts) the nodes the Pending copies need, pools tried in order. */
  private bootForWaiting(): void {
    const waitingByShape = new Map<string, number>();
    for (const inst of this.fleet.state.instances.values()) {
      if (inst.desired === "run" && inst.state === "pending") waitingByShape.set(inst.workload, (waitingByShape.get(inst.workload) ?? 0) + 1);
    }
    const scaling = this.pools.filter((p) => p.lifecycle !== "always-on");
    const rooms: PoolRoom[] = scaling.map((p) => ({
      name: p.pool.name,
      capacity: p.pool.capacity,
      labels: p.pool.labels,
      coming: p.nodes.filter((n) => n.phase === "coming").length,
      available: p.nodes.filter((n) => n.phase === restingPhase(p)).length,
    }));
    const boot = planBoots([...waitingByShape].map(([w, count]) => ({ resources: this.shapes.get(w)!.resources, nodeSelector: this.shapes.get(w)!.nodeSelector, count })), rooms);
    for (const p of scaling) {
      let k = boot.get(p.pool.name)!;
      const from = restingPhase(p);
      for (const n of p.nodes) {
        if (k === 0) break;
        if (n.phase !== from) continue;
        n.phase = "coming";
        n.readyAt = this.now + (from === "stopped" ? p.pool.stoppable!.startMs : p.pool.bootMs);
        this.totals.boots++;
        k--;
      }
    }
  }

  /** The next moment something happens (the scenario's end at the latest), at least 1 ms on. */
  nextMoment(): number {
    let next = this.scenario.durationMs;
    if (this.nextChange < this.changes.length) next = Math.min(next, this.changes[this.nextChange]!);
    for (const n of this.nodes) {
      if (n.phase === "coming") next = Math.min(next, n.readyAt);
      else if (n.phase === "up") next = Math.min(next, n.interruptAt);
    }
    for (const p of this.pools) if (p.nextReleaseAt !== undefined) next = Math.min(next, p.nextReleaseAt);
    for (const t of this.offlineChecks) next = Math.min(next, t);
    return Math.max(next, this.now + 1);
  }

  /** Adds what the time until `next` cost and held, at the rate of the moment steered on, and moves to it. */
  accrueUntil(next: number): void {
    const dt = next - this.now;
    this.totals.cost += (this.rate.price * dt) / HOUR_MS;
    this.totals.waitingMinutes += (this.waiting.size * dt) / 60_000;
    this.totals.reservedCpuMs += this.rate.reservedCpu * dt;
    this.totals.upCpuMs += this.rate.upCpu * dt;
    // The last moment is at least 1 ms on, even past a run shorter than that: the run ends at its end.
    this.now = Math.min(next, this.scenario.durationMs);
  }

  /** What falls due at the moment moved to: nodes booted, spot nodes interrupted, silences long enough, demand steps. */
  arrive(): void {
    this.fleet.now = this.start + this.now;
    for (const n of this.nodes) if (n.phase === "coming" && n.readyAt <= this.now) this.bringUp(n);
    for (const n of this.nodes) if (n.phase === "up" && n.interruptAt <= this.now) this.interrupt(n);
    for (let i = this.offlineChecks.length - 1; i >= 0; i--) {
      if (this.offlineChecks[i]! > this.now) continue;
      this.offlineChecks.splice(i, 1);
      this.needTurn = true;
    }
    while (this.nextChange < this.changes.length && this.changes[this.nextChange]! <= this.now) {
      const t = this.changes[this.nextChange++]!;
      for (const d of this.scenario.demand) if (d.steps.some((s) => s.at === t)) this.commands.push(this.applyDemand(d, replicasAt(d, t)));
    }
    if (this.commands.length > 0) this.needTurn = true;
  }

  private interrupt(n: SimNode): void {
    n.phase = "off";
    n.idleSince = null;
    n.interruptAt = Number.POSITIVE_INFINITY;
    this.totals.interruptions++;
    this.killedAt.set(n.node.name, this.now);
    this.fleet.kill(n.node.name);
    // Its copies are replaced once its silence makes it Offline (the threshold of the fleet's size).
    this.offlineChecks.push(this.now + fleetHeartbeat(this.fleet.state, COST_POLICY).offlineAfterMs + 1);
  }

  /** The run's report at the scenario's end: copies still waiting count their wait so far. */
  report(): LifecycleReport {
    const last = this.samples.at(-1)!;
    this.samples.push({ at: this.now, demandCpu: last.demandCpu, capacityCpu: last.capacityCpu, cost: this.totals.cost });
    const waits = [...this.waits, ...[...this.waiting.values()].map((since) => this.now - since)];
    const waitMs: WaitStats = waits.length === 0 ? { p50: 0, p95: 0, max: 0, copies: 0 } : { p50: percentile(waits, 50), p95: percentile(waits, 95), max: Math.max(...waits), copies: waits.length };
    const t = this.totals;
    return {
      name: this.plan.name,
      rank: 0,
      pools: this.plan.pools,
      cost: round(t.cost, 4),
      waitMs,
      meetsWaitBound: waitMs.p95 <= this.scenario.maxP95WaitMs,
      unschedulableReplicaMinutes: round(t.waitingMinutes, 1),
      boots: t.boots,
      interruptions: t.interruptions,
      reschedules: t.reschedules,
      utilizationPercent: t.upCpuMs === 0 ? 0 : round((100 * t.reservedCpuMs) / t.upCpuMs, 1),
      samples: this.samples,
    };
  }
}

function round(x: number, digits: number): number {
  return +x.toFixed(digits);
}
