/**
 * The reconciler: diffs desired state (workloads) against observed state (instances, nodes)
 * and returns a Plan, one record of action buckets. PURE: (state, now, policy) → Plan.
 *
 * plan() reads as its steps: judge each node's health, take the census of the copies (what is
 * forgotten, lost, held back, and what each workload has running), then plan each workload by
 * its kind: a service by replica slot (plan-service.ts, its rollout in plan-rollout.ts), a
 * system workload by node (plan-system.ts), a batch by index (plan-batch.ts).
 *
 * planToEvents (plan-to-events.ts) turns a plan into the events that record it and the
 * effects that carry it out. Planning again after applying those events, at the same `now`,
 * yields an empty plan.
 */
import { disconnectGate, type GateName, type Hold, type QuarantinePolicy, quarantinesOf } from "./gates.js";
import { disconnectRules } from "../model/disconnect.js";
import { occupiesNode } from "../model/instance-machine.js";
import { type BatchOutcome, type Capacity, type ClusterState, type Instance, instanceSeq, type Workload } from "../model/cluster-state.js";
import { countsAgainstSurge, runsCurrentTemplate } from "../model/cluster-status.js";
import { heardFrom, type JudgedHealth, type NodeHealth } from "../model/node-health.js";
import { judgeNodes } from "./judge-nodes.js";
import { DEFAULT_MAX_HEARTBEATS_PER_SECOND, fleetHeartbeat, type HeartbeatPolicy } from "../model/heartbeat.js";
import { type PlacementStrategy, Placer } from "./placement.js";
import type { AssignedPort } from "../model/ports.js";
import { resolveSpec } from "../model/spec.js";
import { emptyView, type Pass, type WorkloadView } from "./pass.js";
import { atRest, awakeCopies, awakeNames, awakeWorkloads, type QuietScope, quietUntil, workloadsOn } from "./quiet.js";
import { planService } from "./plan-service.js";
import { planSystem } from "./plan-system.js";
import { planBatch } from "./plan-batch.js";
import { nextRunAt, planOrphanRuns, planPeriodic, runsByWorkload } from "./plan-periodic.js";
import type { CronNext } from "../model/schedule.js";

export interface Policy extends HeartbeatPolicy, QuarantinePolicy {
  placement: PlacementStrategy;
  /** How long a Lost instance stays visible before it is forgotten. */
  lostRetentionMs: number;
  /**
   * Node health is what was recorded (NodeHealthChanged), not judged from heartbeats: replay
   * of a log, which keeps no heartbeats, feeds the recorded changes in as inputs (what-if.ts).
   */
  recordedHealth?: boolean;
  /**
   * While none of two nodes or more is Ready, Offline nodes' copies are kept rather than lost:
   * the control plane cannot tell its own partition from theirs. Off where nodes are killed knowing they are gone
   * (sizing a fleet offline), so that a whole fleet's loss shows.
   */
  keepCopiesWhileNoNodeHeard: boolean;
  /**
   * When a cron schedule is next due (spec.schedule): the shell's parser, handed in because the
   * core imports no package. Replay, what-if and the simulator must be handed the same one.
   * Absent: cron schedules never come due (@every ones still do).
   */
  cronNext?: CronNext;
}

export const DEFAULT_POLICY: Policy = {
  placement: "spread",
  suspectAfterMs: 3_000,
  offlineAfterMs: 5_000,
  // Agents come back within about a second of a restart (src/agent/control-stream.ts); the grace covers a slow
  // start with a large fleet reconnecting at once. A node that never returns is Offline
  // startGraceMs + offlineAfterMs after the start.
  startGraceMs: 10_000,
  maxHeartbeatsPerSecond: DEFAULT_MAX_HEARTBEATS_PER_SECOND,
  crashLoopFailures: 5,
  crashLoopWindowMs: 60_000,
  quarantineMs: 300_000,
  lostRetentionMs: 300_000,
  keepCopiesWhileNoNodeHeard: true,
};

/** Why a new instance is created. */
export type PlaceCause = "new" | "restart" | "update" | "rollout" | "drain" | "lost";

export interface NewInstance {
  workload: string;
  index: number;
  generation: number;
  attempt: number;
  resources: Capacity;
  readinessChecks: string[];
  cause: PlaceCause;
}

/** Something the reconciler could not do yet: held by a gate, unplaceable, or waiting on a node. */
export interface Skip {
  gate: GateName | "unplaceable" | "node-unreachable";
  reason: string;
  workload?: string;
  instance?: string;
  node?: string;
  until?: number;
}

/** One list of a plan: the type of its entries (on the type only), and what the list means to a turn. */
interface Bucket<T> {
  /**
   * Its entries are changes: a plan with none is converged (isEmptyPlan). `waiting` is not: a
   * Pending copy's reason recorded again moves nothing, and a placement later in the same pass
   * may change it (the fleet filled up); nor are the skips, what was held back.
   */
  change: boolean;
  /** Applying its entries can give the next pass something to do (enablesMore). */
  enablesMore: boolean;
  /** A turn's passes merged keep the last pass's entries alone (what is held now), not all of them. */
  lastPassOnly?: true;
  readonly entry?: T;
}

function bucket<T>(traits: Omit<Bucket<T>, "entry">): Bucket<T> {
  return traits;
}

/** The lists of a plan, in the order a plan holds them: the Plan type and every function over its lists follow this one table. */
const BUCKETS = {
  /** Node health changes detected from heartbeats. */
  health: bucket<{ node: string; from: NodeHealth; to: NodeHealth }>({ change: true, enablesMore: true }),
  /** Instances on nodes that went Offline. */
  markLost: bucket<{ instance: string; node: string }>({ change: true, enablesMore: true }),
  /** New instances, each with the node it goes to (and its ports there, when it asks for any). */
  place: bucket<NewInstance & { node: string; ports?: AssignedPort[] }>({ change: true, enablesMore: false }),
  /** New instances no node can take yet; they are recorded as Pending. */
  pend: bucket<NewInstance & { reason: string }>({ change: true, enablesMore: true }),
  /** Pending instances still unplaceable for another reason than the one recorded: the reason is recorded again. */
  waiting: bucket<{ instance: string; reason: string }>({ change: false, enablesMore: false }),
  /** Existing Pending instances that a node can now take. */
  schedule: bucket<{ instance: string; node: string; ports?: AssignedPort[] }>({ change: true, enablesMore: false }),
  /** Instances to stop. */
  stop: bucket<{ instance: string; reason: string }>({ change: true, enablesMore: true }),
  /** Stopped (or long-Lost) instances to drop from the view; their history stays in the log. */
  forget: bucket<{ instance: string }>({ change: true, enablesMore: true }),
  /** Deleted workloads whose instances are all gone. */
  removeWorkload: bucket<{ name: string }>({ change: true, enablesMore: true }),
  /** Batch workloads that are now Complete or Failed. */
  finish: bucket<{ name: string } & Omit<BatchOutcome, "at">>({ change: true, enablesMore: true }),
  /** Finished batch workloads whose ttl_after_finished passed, and periodic runs no longer kept (reason): they are deleted. */
  expire: bucket<{ name: string; reason?: string }>({ change: true, enablesMore: true }),
  /** Periodic batches whose time has come: a run is started (a batch workload), planned by the next pass. */
  launch: bucket<{ name: string; run: string; due: number }>({ change: true, enablesMore: true }),
  /** Periodic batches' times that passed without a run, and why. */
  skipRun: bucket<{ name: string; due: number; reason: string }>({ change: true, enablesMore: false }),
  /** Rollouts whose canaries have all been available long enough (auto_promote). */
  promote: bucket<{ name: string }>({ change: true, enablesMore: true }),
  /** Rollouts now complete: every replica has an available copy of the current template. */
  complete: bucket<{ name: string; generation: number }>({ change: true, enablesMore: false }),
  /** Rollouts that failed under auto_revert: back to the last completed spec. */
  revert: bucket<{ name: string; reason: string }>({ change: true, enablesMore: true }),
  /** Rollouts past their progress deadline that nothing reverts: recorded once, they go on trying. */
  stalled: bucket<{ name: string; generation: number; reason: string }>({ change: true, enablesMore: false }),
  /** Rollouts moving on to their next wave (update.waves). */
  wave: bucket<{ name: string; wave: number; waves: number }>({ change: true, enablesMore: false }),
  /** Rollouts whose holding delivery gate changed (gate "": none holds any more). */
  held: bucket<{ name: string; gate: string; reason: string }>({ change: true, enablesMore: false }),
  /** What was held back, and why. Not a change. */
  skip: bucket<Skip>({ change: false, enablesMore: false, lastPassOnly: true }),
};

type BucketName = keyof typeof BUCKETS;
type EntryOf<B> = B extends Bucket<infer T> ? T : never;
type PlanLists = { [K in BucketName]: Array<EntryOf<(typeof BUCKETS)[K]>> };

/** One record of a pass's actions, a list per bucket (BUCKETS says what each holds). */
export interface Plan extends PlanLists {
  at: number;
}

const NAMES = Object.keys(BUCKETS) as BucketName[];
const CHANGES = NAMES.filter((b) => BUCKETS[b].change);
const NOT_CHANGES = NAMES.filter((b) => !BUCKETS[b].change);
const ENABLING = NAMES.filter((b) => BUCKETS[b].enablesMore);

export function emptyPlan(at: number): Plan {
  const p = { at } as Plan;
  for (const b of NAMES) (p as unknown as Record<BucketName, unknown[]>)[b] = [];
  return p;
}

/** True when the plan asks for no change. Skips are not changes, nor Pending reasons to record again. */
export function isEmptyPlan(plan: Plan): boolean {
  return CHANGES.every((b) => plan[b].length === 0);
}

/** One line with the count of each bucket. */
export function summarize(plan: Plan): string {
  const parts = [...CHANGES, ...NOT_CHANGES].filter((b) => plan[b].length > 0).map((b) => `${b}=${plan[b].length}`);
  return isEmptyPlan(plan) ? `converged${plan.skip.length > 0 ? ` (${plan.skip.length} held)` : ""}` : parts.join(" ");
}

/**
 * Whether applying `p` can give the next pass something to do. Copies it placed or scheduled
 * are current and placed: the next pass keeps them; a slot it left pending or held stays so
 * (the fleet only filled up). Stops, losses, forgetting and health changes can free a slot or
 * a node for another action; a batch that finished or expired has its copies stopped next. The
 * property for invariant 1 (idempotence, ARCHITECTURE.md) checks the claim on every turn; under
 * a burst of applies it spares each turn a pass over every workload.
 */
export function enablesMore(p: Plan): boolean {
  return ENABLING.some((b) => p[b].length > 0);
}

/** Concatenates the actions of consecutive passes; skips are those of the last pass. */
export function mergePlans(a: Plan, b: Plan): Plan {
  const merged = { at: a.at } as Plan;
  const lists = merged as unknown as Record<BucketName, unknown[]>;
  for (const k of NAMES) lists[k] = BUCKETS[k].lastPassOnly ? b[k] : [...a[k], ...b[k]];
  return merged;
}

/**
 * When planning next could decide something new without any input arriving: a node's
 * silence crossing a health threshold, or a gate's hold expiring. Undefined when nothing is
 * pending. The writer wakes up then instead of waiting for its periodic tick. `awake`: the
 * writer's workloads that are not quiet (quiet.ts), where the periodic batches are (one is never
 * quiet); without it every workload is looked at.
 */
export function nextWakeup(state: ClusterState, policy: Policy, last: Plan | undefined, awake?: ReadonlySet<string>): number | undefined {
  let at = Number.POSITIVE_INFINITY;
  const t = fleetHeartbeat(state, policy);
  for (const node of state.nodes.values()) {
    const from = heardFrom(node, state.listeningSince, t);
    if (node.health === "ready") at = Math.min(at, from + t.suspectAfterMs + 1);
    else if (node.health === "suspect") at = Math.min(at, from + t.offlineAfterMs + 1);
  }
  for (const s of last?.skip ?? []) if (s.until !== undefined) at = Math.min(at, s.until);
  for (const w of awake === undefined ? state.workloads.values() : awakeWorkloads(state, awake)) {
    const periodic = w.periodic !== null && !w.deleting ? resolveSpec(w.spec).periodic : undefined;
    if (periodic) at = Math.min(at, nextRunAt(w, periodic, policy.cronNext) ?? at);
  }
  return Number.isFinite(at) ? at : undefined;
}

/**
 * Diffs desired against observed. Never mutates `state`. With a `scope`, only its awake
 * workloads are planned (and those with copies on a node whose health it judges changed), what its
 * quiet ones held back is said again, and the pass tells back what it found (quiet.ts).
 */
export function plan(state: ClusterState, now: number, policy: Policy = DEFAULT_POLICY, scope?: QuietScope): Plan {
  const out = emptyPlan(now);
  const { health, draining } = judgeNodes(out.health, state, now, policy);
  // A node's health judged changed: the workloads with copies there are planned too.
  const awake = scope?.awake === undefined || out.health.length === 0 ? scope?.awake : new Set([...scope.awake, ...workloadsOn(state, out.health.map((h) => h.node))]);
  const names = awake === undefined ? [...state.workloads.keys()] : awakeNames(state, awake);
  const { views, released } = takeCensus(out, state, now, policy, health, awake === undefined ? state.instances.values() : awakeCopies(state, names));
  const pass: Pass = { state, health, draining, placer: new Placer(state, health, now, policy.placement, policy, released), now, quarantine: policy };
  // A periodic batch's runs are batches: never quiet, so the awake workloads hold them all.
  const runs = runsByWorkload(awake === undefined ? state.workloads.values() : names.flatMap((name) => state.workloads.get(name) ?? []));
  if (runs.size > 0) planOrphanRuns(out, pass, runs, (w) => resolveSpec(w.spec).periodic !== undefined);
  if (awake !== undefined) for (const q of scope!.held) out.skip.push(...q.skips);
  if (scope !== undefined) {
    scope.planned = awake === undefined ? [...names, ...state.instancesByWorkload.keys()] : names;
    scope.everyWorkload = awake === undefined;
  }
  for (const name of names.sort()) {
    const w = state.workloads.get(name);
    if (w === undefined) continue;
    const v = views.get(name) ?? emptyView();
    const spec = resolveSpec(w.spec);
    const rest = scope !== undefined && atRest(pass, w, spec, v);
    const changes = rest ? changeCount(out) : -1;
    const skipsBefore = out.skip.length;
    planWorkload(out, pass, w, v, runs, policy.cronNext);
    if (!rest || changeCount(out) !== changes) continue;
    const skips = out.skip.slice(skipsBefore);
    const until = quietUntil(w, spec, skips);
    if (until > now) scope!.found.set(name, { until, skips });
  }
  return out;
}

/** How many entries the plan holds besides what it held back. */
function changeCount(p: Plan): number {
  let n = 0;
  for (const b of NAMES) if (b !== "skip") n += p[b].length;
  return n;
}

/**
 * A control plane that hears none of several nodes cannot tell its own partition from
 * theirs, and a copy marked lost would have nowhere to go: while no node is Ready, Offline
 * nodes' copies are kept (Kubernetes' node controller stops evicting in a full disruption for
 * the same reason). A single node's copies are lost as usual: their Pending replacements can
 * only go back to it, and its return takes them back (reclaim).
 */
function fleetHeard(policy: Policy, state: ClusterState, health: JudgedHealth): boolean {
  return !policy.keepCopiesWhileNoNodeHeard || state.nodes.size < 2 || health.anyReady;
}

/**
 * The census of the copies: stopped ones (and done runs no longer wanted) are forgotten, those
 * on Offline nodes lost, those on nodes not heard lately held; the rest counted by workload.
 * `released`: the copies lost in this pass, which hold no node any more.
 */
function takeCensus(out: Plan, state: ClusterState, now: number, policy: Policy, health: JudgedHealth, copies: Iterable<Instance>): { views: Map<string, WorkloadView>; released: Set<string> } {
  const heard = fleetHeard(policy, state, health);
  const views = new Map<string, WorkloadView>();
  const view = (name: string) => {
    let v = views.get(name);
    if (!v) views.set(name, (v = emptyView()));
    return v;
  };
  const lostSlot = (inst: Instance) => (view(inst.workload).lostSlots ??= new Set()).add(inst.index);
  const released = new Set<string>();
  let held: Hold | undefined;
  for (const inst of copies) {
    if (inst.state === "stopped") {
      out.forget.push({ instance: inst.id });
      continue;
    }
    if (inst.state === "succeeded") {
      // A batch remembers its done runs while it exists and they are of its current template.
      const w = state.workloads.get(inst.workload);
      if (w === undefined || w.deleting || !runsCurrentTemplate(w, inst)) out.forget.push({ instance: inst.id });
      else (view(inst.workload).succeeded ??= new Set()).add(inst.index);
      continue;
    }
    if (inst.state === "lost") {
      lostSlot(inst);
      if (now - inst.updatedAt >= policy.lostRetentionMs || !state.workloads.has(inst.workload)) out.forget.push({ instance: inst.id });
      continue;
    }
    if (inst.node !== null && occupiesNode(inst.state)) {
      const h = health.get(inst.node);
      if (h === "offline" && !heard) {
        out.skip.push({ gate: "node-unreachable", node: inst.node, instance: inst.id, workload: inst.workload, reason: "node Offline, but no node is heard: the control plane may be the one cut off" });
      } else if (h === "offline" && (held = heldByDisconnect(state, inst, now, policy)) !== undefined) {
        out.skip.push({ ...held, node: inst.node, instance: inst.id, workload: inst.workload });
      } else if (h === "offline") {
        out.markLost.push({ instance: inst.id, node: inst.node });
        released.add(inst.id);
        lostSlot(inst);
        continue;
      }
      // Late heartbeats: leave its instances alone until the node is Offline or back.
      if (h === "suspect") out.skip.push({ gate: "node-unreachable", node: inst.node, instance: inst.id, workload: inst.workload, reason: "node Suspect" });
    }
    const v = view(inst.workload);
    if (countsAgainstSurge(inst)) v.nonTerminal++;
    if (inst.state !== "pending") v.holding++;
    if (inst.desired === "stop") {
      // A stop that failed is retried; a stop in flight is left alone.
      if (inst.state === "failed") out.stop.push({ instance: inst.id, reason: inst.reason });
      continue;
    }
    v.running.push(inst);
  }
  return { views, released };
}

/**
 * Whether a copy on an Offline node is kept rather than lost, by its workload's disconnect
 * block (gates.ts disconnectGate). A deleted workload's copies, and those of a node an operator
 * removed, are lost as usual: nothing would ever free them otherwise.
 */
function heldByDisconnect(state: ClusterState, inst: Instance, now: number, policy: Policy): Hold | undefined {
  const w = state.workloads.get(inst.workload);
  if (w === undefined || w.deleting || w.spec.disconnect === undefined || state.nodeIdentities.get(inst.node!)?.removed) return undefined;
  const node = state.nodes.get(inst.node!);
  if (node === undefined) return undefined;
  return disconnectGate(disconnectRules(w.spec), heardFrom(node, state.listeningSince, policy), now);
}

/** One workload: removed once deleted and gone, its quarantines said, then planned by its kind. */
function planWorkload(out: Plan, pass: Pass, workload: Workload, v: WorkloadView, runs: ReadonlyMap<string, Workload[]>, cronNext: CronNext | undefined): void {
  // In id order, each id parsed once: a large workload's sort would otherwise parse ids n log n
  // times. One copy (most workloads) is in order already: no parse, no allocation.
  if (v.running.length > 1) {
    const keyed = v.running.map((i) => ({ i, seq: instanceSeq(i.id) })).sort((a, b) => a.seq - b.seq);
    keyed.forEach((k, j) => (v.running[j] = k.i));
  }
  if (workload.deleting) {
    for (const inst of v.running) out.stop.push({ instance: inst.id, reason: "workload deleted" });
    // Pending ones are dropped at once; the rest hold their node until they report stopped.
    if (v.holding === 0) out.removeWorkload.push({ name: workload.name });
    return;
  }
  // Where its current spec is quarantined, placement avoids: the plan says so, and the writer
  // wakes when it ends. Only a workload with failures recorded is looked at.
  if (pass.state.crashes.has(workload.name)) {
    for (const q of quarantinesOf(pass.state, workload.name, pass.now, pass.quarantine)) out.skip.push({ workload: workload.name, node: q.node, gate: "quarantine", reason: `${q.reason}: no copy is placed on ${q.node}`, until: q.until });
  }
  const spec = resolveSpec(workload.spec);
  if (spec.kind === "system") planSystem(out, pass, workload, spec, v.running);
  else if (spec.periodic) planPeriodic(out, pass, workload, spec.periodic, runs.get(workload.name) ?? [], v.running, cronNext);
  else if (spec.kind === "batch") planBatch(out, pass, workload, spec, v);
  else planService(out, pass, workload, spec, v);
}
