/**
 * A workload's own placement rules (spec.placement): a cap of copies per node, balance across a
 * node label's values (hard or soft, even or by targets), soft affinities. PURE.
 *
 * Placement (placement.ts) asks this module three things per copy: whether a node is over the
 * cap, which label values a hard spread allows, and how a node's label values rank. All of it
 * reads counts from WorkloadCopies, an index kept per reconcile pass and updated as copies are
 * placed, never from a scan of the instances: placement runs per copy over many nodes.
 *
 * Soft rules score nodes by their label values only, so nodes with the same values tie and the
 * cluster's spread/binpack ranks among them. Grouping nodes by those values (NodeGroup) lets
 * placement look at the best-scoring group first instead of scoring every node of the fleet.
 */
import type { NodeRecord } from "./cluster-state.js";
import type { Placement } from "../../gen/tessera/v1/types.js";

export interface SpreadRule {
  label: string;
  weight: number;
  /** WHEN_UNSATISFIABLE_WAIT: a copy never goes where it would break the balance. */
  hard: boolean;
  /** Shares in percent per value; empty: an even split over the values the fleet carries. */
  targets: ReadonlyMap<string, number>;
}

export interface AffinityRule {
  label: string;
  value: string;
  weight: number;
}

export interface PlacementRules {
  /** 0: no cap. */
  maxPerNode: number;
  spread: SpreadRule[];
  affinity: AffinityRule[];
  /** Labels the soft rules rank by, in order, deduplicated: nodes group by their values of these. */
  rankLabels: string[];
  /** Whether feasibility depends on this workload's own copies (a cap or a hard spread). */
  ownCounts: boolean;
}

/** The weight of a spread or affinity that does not say (Nomad's default). */
export const DEFAULT_WEIGHT = 50;
const WAIT = 2; // tessera.v1.WhenUnsatisfiable.WHEN_UNSATISFIABLE_WAIT

/** The rules of a spec without any (most specs), shared: a resolved spec is never changed. */
const NO_RULES: PlacementRules = Object.freeze({ maxPerNode: 0, spread: Object.freeze([]) as never[], affinity: Object.freeze([]) as never[], rankLabels: Object.freeze([]) as never[], ownCounts: false });

/** The rules of a spec's placement, defaults applied. */
export function placementRules(p: Placement | undefined): PlacementRules {
  if (p === undefined || (!p.maxPerNode && !p.spread?.length && !p.affinity?.length)) return NO_RULES;
  const spread = (p?.spread ?? []).map((s) => ({
    label: s.label,
    weight: s.weight || DEFAULT_WEIGHT,
    hard: s.whenUnsatisfiable === WAIT,
    targets: new Map(s.targets.map((t) => [t.value, t.percent])),
  }));
  const affinity = (p?.affinity ?? []).map((a) => ({ label: a.label, value: a.value, weight: a.weight || DEFAULT_WEIGHT }));
  const rankLabels = [...new Set([...spread.filter((s) => !s.hard).map((s) => s.label), ...affinity.map((a) => a.label)])];
  const maxPerNode = p?.maxPerNode ?? 0;
  return { maxPerNode, spread, affinity, rankLabels, ownCounts: maxPerNode > 0 || spread.some((s) => s.hard) };
}

/** One workload's copies this pass: per node index, per label value, in all. */
export class WorkloadCopies {
  readonly perNode = new Map<number, number>();
  total = 0;
  private readonly byLabel = new Map<string, Map<string, number>>();

  add(i: number, node: NodeRecord): void {
    this.perNode.set(i, (this.perNode.get(i) ?? 0) + 1);
    this.total++;
    for (const [label, counts] of this.byLabel) {
      const value = node.labels[label];
      if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
  }

  /** Copies per value of `label`, built from the per-node counts on first use and kept up to date. */
  perValue(label: string, nodes: readonly NodeRecord[]): ReadonlyMap<string, number> {
    let counts = this.byLabel.get(label);
    if (counts) return counts;
    counts = new Map();
    for (const [i, n] of this.perNode) {
      const value = nodes[i]!.labels[label];
      if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + n);
    }
    this.byLabel.set(label, counts);
    return counts;
  }
}

/** Nodes (indices into the pass's sorted node list) sharing their values of some labels. */
export interface NodeGroup {
  /** One per label; undefined where the nodes lack it. */
  values: Array<string | undefined>;
  nodes: number[];
  /** Where the next look into this group starts (placement's cursor, per group). */
  cursor: number;
}

/** Groups nodes by their values of `labels`, ordered by those values (deterministic). */
function groupNodes(nodes: readonly NodeRecord[], labels: readonly string[]): NodeGroup[] {
  const groups = new Map<string, NodeGroup>();
  nodes.forEach((node, i) => {
    const values = labels.map((l) => node.labels[l]);
    const key = JSON.stringify(values);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { values, nodes: [], cursor: 0 }));
    g.nodes.push(i);
  });
  return [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, g]) => g);
}

/** The fleet's nodes by their label values, for one reconcile pass: each index built on first use. */
export class FleetLabels {
  private readonly byLabel = new Map<string, Map<string, number[]>>();
  private readonly valueLists = new Map<string, string[]>();
  private readonly valueSets = new Map<string, Set<string>>();
  private readonly grouped = new Map<string, NodeGroup[]>();

  constructor(private readonly nodes: readonly NodeRecord[]) {}

  /** Node indices per value of `label` (nodes without it left out). */
  byValue(label: string): Map<string, number[]> {
    let m = this.byLabel.get(label);
    if (m) return m;
    m = new Map(groupNodes(this.nodes, [label]).flatMap((g) => (g.values[0] === undefined ? [] : [[g.values[0], g.nodes] as const])));
    this.byLabel.set(label, m);
    this.valueLists.set(label, [...m.keys()]);
    return m;
  }

  /** The values of `label` the nodes carry, in order. */
  values(label: string): string[] {
    if (!this.valueLists.has(label)) this.byValue(label);
    return this.valueLists.get(label)!;
  }

  /** The same, as a set. */
  allValues(label: string): Set<string> {
    let all = this.valueSets.get(label);
    if (!all) this.valueSets.set(label, (all = new Set(this.values(label))));
    return all;
  }

  /** The nodes grouped by their values of `labels` (groupNodes). */
  groups(labels: readonly string[]): NodeGroup[] {
    const key = labels.join("\n");
    let g = this.grouped.get(key);
    if (!g) this.grouped.set(key, (g = groupNodes(this.nodes, labels)));
    return g;
  }
}

/** The share (0..1) of a value: an even part without targets; with them, its own or an even part of what they leave. */
export function shareOf(rule: SpreadRule, value: string, values: readonly string[]): number {
  if (rule.targets.size === 0) return 1 / values.length;
  const listed = rule.targets.get(value);
  if (listed !== undefined) return listed / 100;
  let left = 100;
  for (const p of rule.targets.values()) left -= p;
  const unlisted = values.filter((v) => !rule.targets.has(v)).length;
  return left <= 0 || unlisted === 0 ? 0 : left / 100 / unlisted;
}

/**
 * How far below its share a value is once one more copy exists, as a fraction of that share
 * (Nomad's spread boost): 1 for a value with none, negative above its share, -1 for nodes
 * without the label or values whose share is 0.
 */
export function spreadBoost(rule: SpreadRule, value: string | undefined, counts: ReadonlyMap<string, number>, total: number, values: readonly string[]): number {
  if (value === undefined) return -1;
  const wanted = shareOf(rule, value, values) * (total + 1);
  if (wanted <= 0) return -1;
  return (wanted - (counts.get(value) ?? 0)) / wanted;
}

/** A group's soft score (higher is better): weighted spread boosts plus affinities. */
export function groupScore(rules: PlacementRules, group: NodeGroup, copies: WorkloadCopies | undefined, nodes: readonly NodeRecord[], valuesOf: (label: string) => string[]): number {
  let score = 0;
  for (const rule of rules.spread) {
    if (rule.hard) continue;
    const value = group.values[rules.rankLabels.indexOf(rule.label)];
    const counts = copies?.perValue(rule.label, nodes) ?? EMPTY;
    score += rule.weight * spreadBoost(rule, value, counts, copies?.total ?? 0, valuesOf(rule.label));
  }
  for (const a of rules.affinity) if (group.values[rules.rankLabels.indexOf(a.label)] === a.value) score += a.weight;
  return score;
}

const EMPTY: ReadonlyMap<string, number> = new Map();

/**
 * The values of a hard spread's label a copy may go to now. Even split: those with the fewest
 * copies among the values with a node that has room (`hasRoom`, asked in order of count so it
 * is asked little). Targets: those whose copies stay within their share (rounded up) with one
 * more.
 */
export function allowedValues(rule: SpreadRule, counts: ReadonlyMap<string, number>, total: number, values: readonly string[], hasRoom: (value: string) => boolean): Set<string> {
  const count = (v: string) => counts.get(v) ?? 0;
  if (rule.targets.size > 0) return new Set(values.filter((v) => count(v) + 1 <= Math.ceil(shareOf(rule, v, values) * (total + 1))));
  const byCount = [...values].sort((a, b) => count(a) - count(b) || (a < b ? -1 : 1));
  const fewest = byCount.find(hasRoom);
  if (fewest === undefined) return new Set();
  return new Set(byCount.filter((v) => count(v) <= count(fewest)));
}

/** Why a node is refused under a hard spread: its value is above the others, or lacking. */
export function spreadRefusal(rule: SpreadRule, workload: string, value: string | undefined, counts: ReadonlyMap<string, number>): string {
  if (value === undefined) return `lacks label ${rule.label} (spread, wait)`;
  const n = counts.get(value) ?? 0;
  const more = rule.targets.size > 0 ? `its share (${rule.targets.get(value) ?? "the rest"}${rule.targets.has(value) ? "%" : ""})` : "more than another value with room";
  return `${rule.label}=${value} holds ${n} ${n === 1 ? "copy" : "copies"} of ${workload}, ${more} (spread, wait)`;
}

/** The refusal of a node at its cap; countedReason() says how many nodes. */
export function capRefusal(workload: string, max: number): string {
  return `${CAP_PREFIX}${max} ${max === 1 ? "copy" : "copies"} of ${workload} (maxPerNode ${max})`;
}
const CAP_PREFIX = "already hold ";

/** A refusal with how many nodes gave it: "2 short of cpu", "2 nodes already hold 1 copy of db (maxPerNode 1)". */
export function countedReason(why: string, count: number): string {
  if (!why.startsWith(CAP_PREFIX)) return `${count} ${why}`;
  return count === 1 ? `1 node already holds ${why.slice(CAP_PREFIX.length)}` : `${count} nodes ${why}`;
}
