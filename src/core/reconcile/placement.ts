/**
 * Placement: feasibility, then scoring. PURE and deterministic (ties broken by node name).
 *
 * Feasible: node Ready and connected, schedulable (not cordoned or draining), offers the
 * executor, carries every node_selector label, offers every host volume the spec names (writable
 * unless the spec mounts it read_only), has the resources free, holds a process copy to the
 * resources its spec states (or its operator allows it not to: NodeLimits), has every static
 * port free and enough dynamic ones (port-pool.ts), and is not quarantined for this workload. Among feasible
 * nodes `spread` prefers fewest instances of the same workload, then lowest utilization;
 * `binpack` prefers highest utilization. A system workload's copy is not chosen a node: it goes
 * to the one it belongs to, if feasible there (chooseOn).
 *
 * On large fleets scoring every node for every placement is O(nodes × placements); like
 * Nomad's limit iterator, each placement scores at most CANDIDATE_LIMIT feasible nodes, taken
 * from a cursor: spread rotates it through the fleet, binpack keeps it on the node it last
 * filled. Fleets up to that size are scored exactly.
 *
 * A workload's own rules (spec.placement, placement-rules.ts) come first: a node at the
 * workload's maxPerNode, or of a label value a hard spread does not allow now, is infeasible;
 * soft spreads and affinities rank nodes by label values, so nodes are looked at group by group,
 * best-scoring first, and spread/binpack ranks within the group.
 */
import { type QuarantinePolicy, quarantineGate } from "./gates.js";
import type { ClusterState, Instance, NodeRecord } from "../model/cluster-state.js";
import { holdsNode, offersExecutor } from "../model/cluster-status.js";
import type { JudgedHealth } from "../model/node-health.js";
import { copiesOf, countCopy, type Fleet, fleetOf } from "./placement-fleet.js";
import type { AssignedPort } from "../model/ports.js";
import { allowedValues, capRefusal, countedReason, groupScore, type NodeGroup, type SpreadRule, spreadRefusal, type WorkloadCopies } from "../model/placement-rules.js";
import type { ResolvedSpec } from "../model/spec.js";
import { offeredVolume } from "../model/volumes.js";
import { missingSecret } from "../model/secret-use.js";

export type PlacementStrategy = "spread" | "binpack";
export const PLACEMENT_STRATEGIES: readonly PlacementStrategy[] = ["spread", "binpack"];

export const CANDIDATE_LIMIT = 64;

/**
 * Where one placement may go beyond what feasibility says (a rollout's started waves): why a
 * node is refused, or undefined when it may take the copy.
 */
export interface NodeFilter {
  refusal(node: NodeRecord): string | undefined;
  /** Names what it allows now: placements that fit nowhere are remembered under it. */
  key(): string;
}

/** A node, with the ports the copy gets there when its spec asks for any. */
export type Choice = { node: string; ports?: AssignedPort[] } | { reason: string };

/** Distinct refusal reasons shown when nothing fits; port reasons name nodes, so there may be many. */
const MAX_REASONS = 6;

/** What one choose() looks up for every node, made once per call. */
interface Reasons {
  /** 1 for the nodes that have the workload's executor. */
  runs: Uint8Array;
  /** The workload has failure history, so some node may have it quarantined. */
  crashed: boolean;
  executor: string;
  /** One per node_selector entry, in order. */
  labels: string[];
  /** One per host volume the spec names (spec.hostVolumes), in order: the node lacks it. */
  lacksVolume: string[];
  /** Likewise: the node offers it read-only, and the spec writes. */
  readOnlyVolume: string[];
  /** The workload's copies so far this pass. */
  copies: WorkloadCopies;
  /** spec.placement.maxPerNode (0: none), and the refusal of a node at it. */
  cap: number;
  capReason: string;
  /** Hard spreads: the values each allows now, and why a node of another value (or none) is refused. */
  hard: Array<{ rule: SpreadRule; allowed: Set<string>; refusal: (value: string | undefined) => string }>;
}

/** The best node of one choose() so far, and where it was found. */
interface Best {
  i: number;
  first: number;
  second: number;
  found: number;
  /** Its position in the group looked at (or the fleet), and that group. */
  at: number;
  group: NodeGroup | undefined;
}

/** Chooses nodes for one reconcile pass, reserving what it hands out. */
export class Placer {
  /** Built on the first choose(): a pass with nothing to place never pays for it. */
  private fleet: Fleet | undefined;
  private cursor = 0;
  /**
   * Shapes (executor, selector, host volumes, cpu, memory, ports) that fit on no node this pass, with the reason
   * counted for the first of them. Within a pass nodes only fill up, so such a shape fits
   * nowhere for the rest of it: on a nearly full fleet, hundreds of identical copies that wait
   * would otherwise each scan every node twice (~0.5 s a pass at 10,000 nodes).
   */
  private readonly fitsNowhere = new Map<string, string>();
  /**
   * Likewise per group of nodes (scanByRank): a copy pinned by node_selector to one zone, under
   * a spread over zones, would otherwise scan every node of each other zone first, each time.
   */
  private readonly groupFitsNot = new Map<string, Set<NodeGroup>>();

  constructor(
    private readonly state: ClusterState,
    private readonly health: JudgedHealth,
    private readonly now: number,
    private readonly strategy: PlacementStrategy,
    private readonly quarantine: QuarantinePolicy,
    /** Instances the current pass already gave up (lost): they no longer hold resources. */
    private readonly released: ReadonlySet<string>,
  ) {}

  private view(): Fleet {
    return (this.fleet ??= fleetOf(this.state, this.health, this.released));
  }

  /** Reserves one instance's resources on node `i`. */
  private add(i: number, workload: string, cpuMillis: number, memoryMb: number): void {
    const f = this.fleet!;
    f.cpuUsed[i]! += cpuMillis;
    f.memUsed[i]! += memoryMb;
    countCopy(f, i, workload);
  }

  /**
   * Why node `i` cannot take one instance of the workload, or undefined when it can. Runs up
   * to CANDIDATE_LIMIT times per placement and more when most nodes do not fit: the reasons
   * are made once per choose() (`reasons`), never here.
   */
  private infeasible(f: Fleet, i: number, workload: string, spec: ResolvedSpec, selector: Array<[string, string]>, reasons: Reasons, only: NodeFilter | undefined, except?: string): string | undefined {
    const closed = f.closed[i];
    if (closed !== undefined) return closed;
    const node = f.nodes[i]!;
    if (reasons.runs[i] === 0) return reasons.executor;
    for (let l = 0; l < selector.length; l++) {
      if (node.labels[selector[l]![0]] !== selector[l]![1]) return reasons.labels[l];
    }
    if (only !== undefined) {
      const refused = only.refusal(node);
      if (refused !== undefined) return refused;
    }
    for (let v = 0; v < spec.hostVolumes.length; v++) {
      const offered = offeredVolume(node.volumes, spec.hostVolumes[v]!.name);
      if (offered === undefined) return reasons.lacksVolume[v];
      if (offered.readOnly && !spec.hostVolumes[v]!.readOnly) return reasons.readOnlyVolume[v];
    }
    if (f.cpuUsed[i]! + spec.cpuMillis > f.cpuCapacity[i]!) return "short of cpu";
    if (f.memUsed[i]! + spec.memoryMb > f.memCapacity[i]!) return "short of memory";
    if (spec.statesLimits && spec.executor === "process" && !limitsHold(node)) return "limits not enforced";
    if (spec.ports.length > 0) {
      const ports = f.ports.refusal(i, spec.ports, except);
      if (ports !== undefined) return ports;
    }
    if (reasons.crashed && quarantineGate(this.state, workload, node.name, this.now, this.quarantine)) return "crash-loop quarantine";
    if (reasons.cap > 0 && (reasons.copies.perNode.get(i) ?? 0) >= reasons.cap) return reasons.capReason;
    for (let h = 0; h < reasons.hard.length; h++) {
      const { rule, allowed, refusal } = reasons.hard[h]!;
      const value = node.labels[rule.label];
      if (value === undefined || !allowed.has(value)) return refusal(value);
    }
    return undefined;
  }

  /**
   * Picks a node and reserves the resources (and ports, held by `holder`) there, or explains why
   * none fits; `only` narrows the nodes it may pick.
   */
  choose(workload: string, spec: ResolvedSpec, holder: string, only?: NodeFilter): Choice {
    const f = this.view();
    const n = f.nodes.length;
    if (n === 0) return { reason: "no nodes" };
    const missing = missingSecret(this.state.secrets, spec.secretNeeds);
    if (missing !== undefined) return { reason: missing };
    const selector = Object.entries(spec.nodeSelector);
    // Quarantine depends on the workload: only shapes free of it are remembered. The shape is
    // made only when something is remembered or ranks by it: most copies fit the first time.
    const rules = spec.placement;
    const remembered = !f.crashed.has(workload);
    const shape = remembered && (this.fitsNowhere.size > 0 || rules.rankLabels.length > 0) ? shapeOf(workload, spec, selector, only) : undefined;
    if (shape !== undefined && this.fitsNowhere.size > 0) {
      const known = this.fitsNowhere.get(shape);
      if (known !== undefined) return { reason: known };
    }
    const reasons = this.reasonsFor(f, workload, spec, selector);
    const best: Best = { i: -1, first: 0, second: 0, found: 0, at: 0, group: undefined };
    if (rules.rankLabels.length === 0) this.scan(f, undefined, this.cursor, workload, spec, selector, reasons, only, best);
    else this.scanByRank(f, workload, spec, selector, reasons, only, best, shape);
    if (best.i < 0) {
      // Nothing fits (every node was looked at): only now count why, node by node.
      const refusals = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const why = this.infeasible(f, i, workload, spec, selector, reasons, only)!;
        refusals.set(why, (refusals.get(why) ?? 0) + 1);
      }
      const sorted = [...refusals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      const shown = sorted.slice(0, MAX_REASONS).map(([why, count]) => countedReason(why, count));
      if (sorted.length > MAX_REASONS) shown.push(`${sorted.slice(MAX_REASONS).reduce((sum, [, count]) => sum + count, 0)} for other reasons`);
      const detail = shown.join(", ");
      const reason = `no node fits (${detail})`;
      if (remembered) this.fitsNowhere.set(shape ?? shapeOf(workload, spec, selector, only), reason);
      return { reason };
    }
    // Spread moves on past the chosen node; binpack starts the next look at it, so it fills
    // that node before opening another (moving on, 2,000 small replicas took 937 of 1,000 nodes).
    const size = best.group ? best.group.nodes.length : n;
    const next = this.strategy === "spread" ? (best.at + 1) % size : best.at;
    if (best.group) best.group.cursor = next;
    else this.cursor = next;
    return this.reserve(f, best.i, workload, spec, holder);
  }

  /**
   * Looks at up to CANDIDATE_LIMIT feasible nodes of `members` (the whole fleet when undefined),
   * from position `start`, keeping the best in `best`. Allocates nothing: it runs per copy.
   */
  private scan(f: Fleet, members: readonly number[] | undefined, start: number, workload: string, spec: ResolvedSpec, selector: Array<[string, string]>, reasons: Reasons, only: NodeFilter | undefined, best: Best, group?: NodeGroup): void {
    const n = members ? members.length : f.nodes.length;
    const same = reasons.copies.perNode;
    for (let k = 0; k < n && best.found < CANDIDATE_LIMIT; k++) {
      const at = (start + k) % n;
      const i = members ? members[at]! : at;
      if (this.infeasible(f, i, workload, spec, selector, reasons, only) !== undefined) continue;
      best.found++;
      const utilization = ((f.cpuUsed[i]! + spec.cpuMillis) / f.cpuCapacity[i]! + (f.memUsed[i]! + spec.memoryMb) / f.memCapacity[i]!) / 2;
      // Lower is better: spread wants fewest copies of this workload, then the least used node;
      // binpack the fullest node that still fits.
      const first = this.strategy === "spread" ? (same.get(i) ?? 0) : -utilization;
      const second = this.strategy === "spread" ? utilization : 0;
      // Nodes are sorted by name, so the lower index is the lower name.
      if (best.i < 0 || first < best.first || (first === best.first && (second < best.second || (second === best.second && i < best.i)))) {
        best.i = i;
        best.first = first;
        best.second = second;
        best.at = at;
        best.group = group;
      }
    }
  }

  /**
   * Soft spreads and affinities: nodes grouped by the labels they rank by, groups of equal score
   * looked at together, best score first; the first such tier with a feasible node decides.
   */
  private scanByRank(f: Fleet, workload: string, spec: ResolvedSpec, selector: Array<[string, string]>, reasons: Reasons, only: NodeFilter | undefined, best: Best, shape: string | undefined): void {
    const rules = spec.placement;
    // What a hard spread allows changes as the pass places copies: only without one does a
    // group that fits nothing stay so.
    const key = shape !== undefined && reasons.hard.length === 0 ? shape : undefined;
    let fitsNot = key === undefined ? undefined : this.groupFitsNot.get(key);
    const valuesOf = (label: string) => f.labels.values(label);
    const scored = f.labels.groups(rules.rankLabels).map((g, order) => ({ g, order, score: groupScore(rules, g, reasons.copies, f.nodes, valuesOf) }));
    scored.sort((a, b) => b.score - a.score || a.order - b.order);
    for (let t = 0; t < scored.length && best.i < 0; ) {
      const score = scored[t]!.score;
      best.found = 0;
      for (; t < scored.length && scored[t]!.score === score; t++) {
        const g = scored[t]!.g;
        if (fitsNot?.has(g)) continue;
        const found = best.found;
        this.scan(f, g.nodes, g.cursor, workload, spec, selector, reasons, only, best, g);
        // Nothing found below the limit: every node of the group was looked at.
        if (best.found === found && found < CANDIDATE_LIMIT && key !== undefined) {
          if (!fitsNot) this.groupFitsNot.set(key, (fitsNot = new Set()));
          fitsNot.add(g);
        }
      }
    }
  }

  /**
   * A system workload's copy on the node it belongs to: reserves it there, or says why that
   * node cannot take it (prefixed with the node's name).
   */
  chooseOn(node: string, workload: string, spec: ResolvedSpec, holder: string): Choice {
    const f = this.view();
    const i = f.index.get(node);
    if (i === undefined) return { reason: `${node}: not a known node` };
    const selector = Object.entries(spec.nodeSelector);
    const why = this.infeasible(f, i, workload, spec, selector, this.reasonsFor(f, workload, spec, selector), undefined);
    return why === undefined ? this.reserve(f, i, workload, spec, holder) : { reason: `${node}: ${why}` };
  }

  /**
   * Whether a copy of the spec would fit on `old`'s node once `old` is gone, its cpu, memory and
   * ports given back: what stopping it before its replacement starts makes room for. Reserves nothing.
   */
  fitsInPlaceOf(old: Instance, workload: string, spec: ResolvedSpec, only?: NodeFilter): boolean {
    const f = this.view();
    const i = old.node === null || !holdsNode(old) ? undefined : f.index.get(old.node);
    if (i === undefined) return false;
    const selector = Object.entries(spec.nodeSelector);
    f.cpuUsed[i]! -= old.resources.cpuMillis;
    f.memUsed[i]! -= old.resources.memoryMb;
    const why = this.infeasible(f, i, workload, spec, selector, this.reasonsFor(f, workload, spec, selector), only, old.name);
    f.cpuUsed[i]! += old.resources.cpuMillis;
    f.memUsed[i]! += old.resources.memoryMb;
    return why === undefined;
  }

  /** What choose() and chooseOn() look up for every node they check, made once per call. */
  private reasonsFor(f: Fleet, workload: string, spec: ResolvedSpec, selector: Array<[string, string]>): Reasons {
    let runs = f.runs.get(spec.executor);
    if (!runs) {
      f.runs.set(spec.executor, (runs = new Uint8Array(f.nodes.length)));
      for (let i = 0; i < f.nodes.length; i++) runs[i] = offersExecutor(f.nodes[i]!, spec) ? 1 : 0;
    }
    const copies = copiesOf(f, workload);
    const rules = spec.placement;
    const reasons: Reasons = {
      runs,
      crashed: f.crashed.has(workload),
      executor: `no ${spec.executor} executor`,
      labels: selector.map(([k, v]) => `lacks label ${k}=${v}`),
      lacksVolume: spec.hostVolumes.map((v) => `lacks host volume ${v.name}`),
      readOnlyVolume: spec.hostVolumes.map((v) => `host volume ${v.name} is read-only`),
      copies,
      cap: rules.maxPerNode,
      capReason: rules.maxPerNode > 0 ? capRefusal(workload, rules.maxPerNode) : "",
      hard: [],
    };
    // Each hard spread asks which values have a node with room without the hard spreads.
    const hard = [];
    for (const rule of rules.spread) {
      if (!rule.hard) continue;
      const byValue = f.labels.byValue(rule.label);
      const counts = copies.perValue(rule.label, f.nodes);
      const hasRoom = (value: string) => byValue.get(value)!.some((i) => this.infeasible(f, i, workload, spec, selector, reasons, undefined) === undefined);
      const values = f.labels.values(rule.label);
      // A workload's first copy may go to any value: most workloads' only placement, so it is kept cheap.
      const allowed = counts.size === 0 && rule.targets.size === 0 ? f.labels.allValues(rule.label) : allowedValues(rule, counts, copies.total, values, hasRoom);
      // Made when first asked: most placements never need the words.
      const refusals = new Map<string | undefined, string>();
      const refusal = (value: string | undefined) => {
        let why = refusals.get(value);
        if (why === undefined) refusals.set(value, (why = spreadRefusal(rule, workload, value, counts)));
        return why;
      };
      hard.push({ rule, allowed, refusal });
    }
    reasons.hard = hard;
    return reasons;
  }

  /** Reserves one copy's resources (and ports, held by `holder`) on node `i`. */
  private reserve(f: Fleet, i: number, workload: string, spec: ResolvedSpec, holder: string): Choice {
    this.add(i, workload, spec.cpuMillis, spec.memoryMb);
    if (spec.ports.length === 0) return { node: f.nodes[i]!.name };
    return { node: f.nodes[i]!.name, ports: f.ports.assign(i, holder, spec.ports, spec.executor === "docker") };
  }
}

/**
 * What feasibility depends on in a spec, as one string: under it a copy that fits nowhere is
 * remembered for the rest of the pass. A cap or a hard spread depends on the workload's own
 * copies, so such a shape is the workload's own.
 */
function shapeOf(workload: string, spec: ResolvedSpec, selector: Array<[string, string]>, only: NodeFilter | undefined): string {
  return `${spec.placement.ownCounts ? workload : ""}\n${spec.executor}\n${spec.cpuMillis}\n${spec.memoryMb}\n${spec.statesLimits}\n${spec.portShape}\n${spec.volumeShape}\n${JSON.stringify(selector)}${only === undefined ? "" : `\n${only.key()}`}`;
}

/** Whether a process copy that states resources is held to them there: an agent that says nothing of limits (older, simulated) is taken at its word. */
function limitsHold(node: NodeRecord): boolean {
  return node.limits === undefined || node.limits.enforcedBy !== "" || node.limits.allowUnenforced;
}
