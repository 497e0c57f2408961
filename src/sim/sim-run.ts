/**
 * Runs a `tessera sim` scenario once per placement strategy on the simulated fleet and ranks
 * the strategies. PURE and deterministic: the same scenario gives the same report.
 *
 * Simulated time moves in 1 s ticks (the agents' heartbeat period) and agents answer at once,
 * so convergence times measure what the control plane decides and how fast it notices a dead
 * node (Suspect after 3 s, Offline after 5 s), not how long real copies take to start.
 */
import type { Command } from "../core/decide/commands.js";
import { type FleetNode, SimulatedFleet } from "./simulated-fleet.js";
import { isVolatile } from "../core/events/event-facts.js";
import { formatDurationMs } from "../core/model/duration.js";
import type { Workload } from "../core/model/cluster-state.js";
import { allocatedOn, desiredCopies } from "../core/model/cluster-status.js";
import { type PlacementStrategy, PLACEMENT_STRATEGIES } from "../core/reconcile/placement.js";
import { type RuleViolation, ruleViolations } from "../core/reconcile/placement-audit.js";
import { DEFAULT_POLICY, type Plan } from "../core/reconcile/reconcile.js";
import type { CronNext } from "../core/model/schedule.js";
import { describeRejection } from "../core/model/rejections.js";
import { resolveSpec, type WorkloadKindName } from "../core/model/spec.js";
import { type Failure, type NodeSelection, nodeNames, type Scenario, type WorkloadMix, workloadNames } from "./sim-scenario.js";
import type { Check, WorkloadKind, WorkloadSpec } from "../gen/tessera/v1/types.js";

const TICK_MS = 1_000;

/** When the fleet settled after something happened to it. */
export interface Convergence {
  /** Simulated ms since the start; failures are applied on the tick at or after their time. */
  at: number;
  event: string;
  /** Ms from `at` to the last change before the fleet settled again (later events may extend it); null: not settled by the end. */
  ms: number | null;
}

export interface NodeReport {
  name: string;
  alive: boolean;
  cpuMillis: { used: number; capacity: number };
  memoryMb: { used: number; capacity: number };
  /** Replicas holding the node at the end, by name. */
  instances: string[];
}

export interface Unschedulable {
  workload: string;
  replicas: number;
  /** The placer's reason, as `tessera ctl describe` shows it. */
  reason: string;
}

/** How a scenario's rollout went under one strategy. */
export interface RolloutReport {
  workload: string;
  /** When its spec changed, from the start. */
  at: number;
  outcome: "complete" | "reverted" | "unfinished";
  /** From the change to the outcome; null when unfinished. */
  ms: number | null;
}

export interface StrategyReport {
  strategy: PlacementStrategy;
  rank: number;
  desired: number;
  /** Replicas Running at the end. */
  placed: number;
  /** Replicas Pending at the end: no node could take them. */
  unschedulable: number;
  pending: Unschedulable[];
  /** Instances displaced by node loss (each was replaced: placed elsewhere, or pending). */
  reschedules: number;
  convergence: Convergence[];
  /** The scenario's rollouts, in order. */
  rollouts: RolloutReport[];
  /** Runs its periodic batches started (nothing exits in a simulation: a run never ends); only with periodic batches. */
  periodicRuns?: number;
  /** At the end, where workloads' copies depart from their own placement rules (soft ones given up for room). */
  violations: RuleViolation[];
  /** Over the nodes alive at the end; percentages of capacity. */
  utilization: {
    cpuPercent: { mean: number; max: number };
    memoryPercent: { mean: number; max: number };
    nodesUsed: number;
    emptyNodes: number;
  };
  nodes: NodeReport[];
}

export interface SimReport {
  durationMs: number;
  nodes: number;
  desiredReplicas: number;
  /** The ranking's criteria, most important first. */
  rankedBy: string[];
  strategies: StrategyReport[];
  /** One line: the winner and the criterion that decided it. */
  summary: string;
}

/**
 * The ranking, most important first. Running every replica comes first; then how fast the
 * fleet settles and how many copies a node loss moves (spread's strength); then how many
 * nodes stay empty, free for big workloads or to be given back (binpack's strength).
 * A full tie goes to the order of PLACEMENT_STRATEGIES, the default first.
 */
const CRITERIA: Array<{ name: string; label: string; key: (r: StrategyReport) => number; show: (v: number) => string }> = [
  { name: "fewest unschedulable replicas", label: "unschedulable", key: (r) => r.unschedulable, show: String },
  { name: "fastest convergence (the slowest of start and each failure)", label: "convergence", key: slowestConvergence, show: (v) => formatDurationMs(v, "rounded") },
  { name: "fewest reschedules", label: "reschedules", key: (r) => r.reschedules, show: String },
  { name: "most empty nodes", label: "empty nodes", key: (r) => -r.utilization.emptyNodes, show: (v) => String(-v) },
];

/** The slowest convergence of a run; Infinity when one never settled. */
function slowestConvergence(r: StrategyReport): number {
  return Math.max(...r.convergence.map((c) => c.ms ?? Number.POSITIVE_INFINITY));
}

/** Simulates the scenario under each strategy and ranks them. */
/** `cronNext`: the cron parser the writer is handed (cli/ hands it in), for periodic batches' cron schedules. */
export function simulate(scenario: Scenario, strategies: readonly PlacementStrategy[] = PLACEMENT_STRATEGIES, cronNext?: CronNext): SimReport {
  const runs = strategies.map((s) => runStrategy(scenario, s, cronNext));
  const order = (s: PlacementStrategy) => PLACEMENT_STRATEGIES.indexOf(s);
  runs.sort((a, b) => {
    for (const c of CRITERIA) {
      const d = c.key(a) - c.key(b);
      // Two runs that never settled differ by Infinity - Infinity: a tie, not NaN.
      if (d !== 0 && !Number.isNaN(d)) return d;
    }
    return order(a.strategy) - order(b.strategy);
  });
  runs.forEach((r, i) => (r.rank = i + 1));
  return {
    durationMs: scenario.durationMs,
    nodes: scenario.fleet.reduce((n, g) => n + g.count, 0),
    desiredReplicas: runs[0]?.desired ?? 0,
    rankedBy: [...CRITERIA.map((c) => c.name), "the default strategy"],
    strategies: runs,
    summary: explainRanking(runs),
  };
}

/** Which strategy ranks first, and the first criterion (in ranking order) that sets it apart from the second. */
function explainRanking(runs: StrategyReport[]): string {
  const [first, second] = runs;
  if (first === undefined) return "no strategy simulated";
  if (second === undefined) return `only ${first.strategy} simulated`;
  const ties: string[] = [];
  for (const c of CRITERIA) {
    const a = c.key(first);
    const b = c.key(second);
    if (a !== b) {
      const tied = ties.length > 0 ? `; tied on ${ties.join(", ")}` : "";
      return `${first.strategy} ranks first on ${c.label} (${c.show(a)} vs ${c.show(b)} for ${second.strategy})${tied}`;
    }
    ties.push(`${c.label} (${c.show(a)})`);
  }
  return `${first.strategy} ranks first as the default: tied on ${ties.join(", ")}`;
}

function runStrategy(scenario: Scenario, strategy: PlacementStrategy, cronNext: CronNext | undefined): StrategyReport {
  // Killed nodes are known gone here: their copies are lost even when the whole fleet is.
  const fleet = new SimulatedFleet({ ...DEFAULT_POLICY, placement: strategy, keepCopiesWhileNoNodeHeard: false, cronNext }, undefined, false);
  const start = fleet.now;
  const groups = new Map(scenario.fleet.map((g) => [g.name, nodeNames(g)]));
  const fleetNodes = scenario.fleet.flatMap((g) => groups.get(g.name)!.map((name): FleetNode => ({ name, capacity: g.capacity, labels: g.labels })));
  const byName = new Map(fleetNodes.map((n) => [n.name, n]));

  let reschedules = 0;
  let periodicRuns = 0;
  let changed = false;
  let lastPlan: Plan | undefined;
  const rollouts: Array<RolloutReport & { generation: number }> = [];
  fleet.onTurn = (r) => {
    if (r.plan) reschedules += r.plan.markLost.length;
    lastPlan = r.plan;
    if (r.events.some((e) => !isVolatile(e))) changed = true;
    periodicRuns += r.events.filter((e) => e.type === "PeriodicRunStarted").length;
    for (const e of r.events) {
      if (e.type !== "RolloutCompleted" && e.type !== "RolloutReverted") continue;
      const generation = e.type === "RolloutCompleted" ? e.generation : e.failedGeneration;
      const ro = rollouts.find((x) => x.workload === e.name && x.generation === generation && x.outcome === "unfinished");
      if (!ro) continue;
      ro.outcome = e.type === "RolloutCompleted" ? "complete" : "reverted";
      ro.ms = fleet.now - start - ro.at;
    }
  };

  for (const n of fleetNodes) fleet.connect(n);
  const applies: Command[] = scenario.workloads.flatMap((w) =>
    workloadNames(w).map((name): Command => ({
      type: "ApplyWorkload",
      name,
      labels: {},
      // Nothing runs in the simulation; validation wants a command all the same.
      spec: simSpec(w, 0),
    })),
  );
  const refused = fleet.turn(applies).decisions.find((d) => d.rejection);
  // parseScenario accepts only what the core accepts; a refusal would silently drop a workload.
  if (refused?.rejection) throw new Error(`the core refused a scenario workload: ${describeRejection(refused.rejection)}`);

  /** Settled: every node's recorded health matches its agent, and no gate waits for a time. */
  const settled = () =>
    [...fleet.state.nodes.values()].every((n) => n.health === (fleet.dead.has(n.name) ? "offline" : "ready")) &&
    !(lastPlan?.skip ?? []).some((s) => s.until !== undefined);

  const convergence: Convergence[] = [{ at: 0, event: "start", ms: null }];
  /** Events the fleet has not settled from yet; a failure during recovery extends all of them. */
  let open = [...convergence];
  let lastChange = 0;
  let next = 0;
  for (let elapsed = 0; elapsed < scenario.durationMs; ) {
    const due: string[] = [];
    while (next < scenario.failures.length && scenario.failures[next]!.at <= elapsed) {
      const f = scenario.failures[next++]!;
      if ("rollout" in f) {
        due.push(rollOut(fleet, scenario, f, elapsed, rollouts));
        continue;
      }
      due.push(inject(fleet, byName, groups, f));
    }
    if (due.length > 0) {
      const c = { at: elapsed, event: due.join("; "), ms: null };
      convergence.push(c);
      open.push(c);
    }
    changed = false;
    fleet.advance(TICK_MS);
    elapsed = fleet.now - start;
    if (changed) lastChange = elapsed;
    else if (open.length > 0 && settled()) {
      for (const c of open) c.ms = Math.max(0, lastChange - c.at);
      open = [];
    }
  }
  const periodic = scenario.workloads.some((w) => w.periodic) ? { periodicRuns } : {};
  return { strategy, rank: 0, ...outcome(fleet, fleetNodes, lastPlan), reschedules, convergence, rollouts: rollouts.map(({ generation: _g, ...r }) => r), ...periodic };
}

/** A readiness check for a workload with rollout settings: what soak and a failing rollout are judged by. */
const SIM_READY: Check = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp", value: { port: 1, portName: "" } } };

/** A scenario workload's spec at its `version`-th rollout. Nothing runs in the simulation; validation wants a command all the same. Cost runs (cost-run.ts) scale their services with it. */
export function simSpec(w: WorkloadMix, version: number): WorkloadSpec {
  const u = w.update;
  const ms = (v: number | undefined) => (v === undefined ? undefined : { seconds: Math.floor(v / 1000), nanos: (v % 1000) * 1_000_000 });
  return {
    command: "/bin/sleep",
    args: version === 0 ? [] : [`v${version}`],
    env: {},
    workingDir: "",
    image: "",
    resources: w.resources,
    nodeSelector: w.nodeSelector,
    ...(w.placement ? { placement: w.placement } : {}),
    checks: u ? [SIM_READY] : [],
    ...{ ports: [], volumes: [], secrets: [], configs: [], secretEnv: {}, secretVersions: {} },
    ...kindFields(w),
    ...{ schedule: "", timeZone: "", concurrency: 0, ...w.periodic },
    ...(u
      ? {
          update: { maxSurge: u.maxSurge, maxUnavailable: u.maxUnavailable, canary: u.canary, autoPromote: u.autoPromote, minHealthyTime: ms(u.minHealthyMs), autoRevert: u.autoRevert, waves: [] },
          progressDeadline: ms(u.progressDeadlineMs),
        }
      : {}),
  };
}

/** Changes a workload's spec (its next version); with `fails` its new copies never become Ready. */
function rollOut(fleet: SimulatedFleet, scenario: Scenario, f: Extract<Failure, { rollout: string }>, elapsed: number, rollouts: Array<RolloutReport & { generation: number }>): string {
  const mix = scenario.workloads.find((w) => workloadNames(w).includes(f.rollout))!;
  const version = rollouts.filter((r) => r.workload === f.rollout).length + 1;
  if (f.fails) fleet.failingChecks.add(f.rollout);
  else fleet.failingChecks.delete(f.rollout);
  fleet.turn([{ type: "ApplyWorkload", name: f.rollout, labels: {}, spec: simSpec(mix, version) }]);
  rollouts.push({ workload: f.rollout, at: elapsed, outcome: "unfinished", ms: null, generation: fleet.state.workloads.get(f.rollout)!.templateGeneration });
  return `rollout ${f.rollout}${f.fails ? " (failing)" : ""}`;
}

/** Applies one failure event; returns what it did, naming the nodes it chose. */
function inject(fleet: SimulatedFleet, byName: Map<string, FleetNode>, groups: Map<string, string[]>, f: Exclude<Failure, { rollout: string }>): string {
  if ("crash" in f) {
    const inst = [...fleet.state.instances.values()].find((i) => i.name === f.crash && i.desired === "run" && i.state === "running");
    if (inst === undefined) return `crash ${f.crash} (not running)`;
    fleet.crash(inst.id);
    return `crash ${f.crash}`;
  }
  const kill = "kill" in f;
  const names = choose(fleet, groups, kill ? f.kill : f.restore, kill);
  for (const name of names) {
    if (kill) fleet.kill(name);
    else fleet.connect(byName.get(name)!);
  }
  const verb = kill ? "kill" : "restore";
  return names.length > 0 ? `${verb} ${names.join(", ")}` : `${verb} (no node ${kill ? "alive" : "dead"})`;
}

/**
 * The nodes a selection names that can be killed (alive) or restored (dead). `count` of a
 * group kills its busiest nodes, the worst case for the strategy under test (ties by name),
 * and restores its dead nodes in name order.
 */
function choose(fleet: SimulatedFleet, groups: Map<string, string[]>, sel: NodeSelection, kill: boolean): string[] {
  const eligible = (n: string) => fleet.dead.has(n) !== kill;
  if ("nodes" in sel) return sel.nodes.filter(eligible);
  const members = groups.get(sel.group)!.filter(eligible);
  if (kill) {
    const load = (n: string) => fleet.state.nodeLoad.get(n)?.copies.size ?? 0;
    members.sort((a, b) => load(b) - load(a) || (a < b ? -1 : 1));
  } else members.sort();
  return members.slice(0, sel.count ?? members.length);
}

/** tessera.v1.WorkloadKind by name (the core imports only types from generated code). */
const KIND_NUMBER = { service: 1, system: 2, batch: 3 } as const satisfies Record<WorkloadKindName, WorkloadKind>;

/** A scenario workload's kind and how many it wants, as spec fields. */
function kindFields(w: WorkloadMix): Pick<WorkloadSpec, "kind" | "replicas" | "completions" | "parallelism"> {
  if (w.kind === "service") return { kind: KIND_NUMBER.service, replicas: w.replicas };
  if (w.kind === "system") return { kind: KIND_NUMBER.system };
  return { kind: KIND_NUMBER.batch, completions: w.replicas, parallelism: w.parallelism };
}

/**
 * Copies a workload wants running at the end of a simulation: a service's replicas, a copy per
 * qualifying node of a system workload, and a batch's runs at once (nothing exits in a
 * simulation, so none completes).
 */
function wantedNow(fleet: SimulatedFleet, w: Workload): number {
  const spec = resolveSpec(w.spec);
  // A periodic batch runs nothing itself; its runs are batches of their own.
  return spec.periodic ? 0 : spec.kind === "batch" ? Math.min(spec.parallelism, spec.replicas) : desiredCopies(fleet.state, w);
}

function outcome(fleet: SimulatedFleet, fleetNodes: FleetNode[], lastPlan: Plan | undefined): Omit<StrategyReport, "strategy" | "rank" | "reschedules" | "convergence" | "rollouts"> {
  const workloads = [...fleet.state.workloads.values()];
  const desired = workloads.reduce((n, w) => n + wantedNow(fleet, w), 0);
  const running = new Set<string>();
  const pendingReason = new Map<string, string>();
  const pending = new Map<string, Unschedulable>();
  for (const s of lastPlan?.skip ?? []) {
    if (s.gate !== "unplaceable") continue;
    if (s.instance !== undefined) pendingReason.set(s.instance, s.reason);
    // A system workload's copy that no node can take is a node without it, not a Pending copy.
    else if (s.node !== undefined && s.workload !== undefined) {
      const reason = s.reason.startsWith(`${s.node}: `) ? s.reason.slice(s.node.length + 2) : s.reason;
      const key = `${s.workload}\n${reason}`;
      const p = pending.get(key) ?? { workload: s.workload, replicas: 0, reason };
      p.replicas++;
      pending.set(key, p);
    }
  }
  for (const inst of fleet.state.instances.values()) {
    if (inst.desired === "run" && inst.state === "running") running.add(inst.name);
    if (inst.desired === "run" && inst.state === "pending") {
      const reason = pendingReason.get(inst.id) ?? inst.reason;
      const key = `${inst.workload}\n${reason}`;
      const p = pending.get(key) ?? { workload: inst.workload, replicas: 0, reason };
      p.replicas++;
      pending.set(key, p);
    }
  }
  const nodes: NodeReport[] = fleetNodes.map((n) => {
    const u = allocatedOn(fleet.state, n.name);
    return {
      name: n.name,
      alive: !fleet.dead.has(n.name),
      cpuMillis: { used: u.cpuMillis, capacity: n.capacity.cpuMillis },
      memoryMb: { used: u.memoryMb, capacity: n.capacity.memoryMb },
      instances: [...(fleet.state.nodeLoad.get(n.name)?.copies ?? [])].map((id) => fleet.state.instances.get(id)!.name).sort(),
    };
  });
  const alive = nodes.filter((n) => n.alive);
  const percent = (f: (n: NodeReport) => { used: number; capacity: number }) => {
    const values = alive.map((n) => (100 * f(n).used) / f(n).capacity);
    const round = (v: number) => Math.round(v * 10) / 10;
    return { mean: round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)), max: round(Math.max(0, ...values)) };
  };
  const list = [...pending.values()].sort((a, b) => (a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : a.reason < b.reason ? -1 : 1));
  return {
    desired,
    placed: running.size,
    unschedulable: list.reduce((n, p) => n + p.replicas, 0),
    pending: list,
    violations: ruleViolations(fleet.state),
    utilization: {
      cpuPercent: percent((n) => n.cpuMillis),
      memoryPercent: percent((n) => n.memoryMb),
      nodesUsed: alive.filter((n) => n.instances.length > 0).length,
      emptyNodes: alive.filter((n) => n.instances.length === 0).length,
    },
    nodes,
  };
}
