/**
 * Where a workload's copies stand against its own placement rules (spec.placement), after the
 * fact: what `tessera sim` reports per strategy. PURE.
 *
 * Placement never breaks a cap or a hard spread, so those are checked as a guard; soft rules may
 * be given up for room, and that is what shows here: a soft spread off its share by more than
 * one copy, copies away from the values an affinity prefers (or on those it avoids).
 */
import type { ClusterState } from "../model/cluster-state.js";
import { holdsNode } from "../model/cluster-status.js";
import { placementRules, shareOf, type SpreadRule } from "../model/placement-rules.js";

export interface RuleViolation {
  workload: string;
  /** The rule as a manifest names it: `maxPerNode 1`, `spread zone`, `affinity disk=ssd`. */
  rule: string;
  detail: string;
}

/** Copies of each workload with rules, per node, holding it now. */
function copiesPerNode(state: ClusterState): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const i of state.instances.values()) {
    if (i.node === null || !holdsNode(i)) continue;
    let m = out.get(i.workload);
    if (!m) out.set(i.workload, (m = new Map()));
    m.set(i.node, (m.get(i.node) ?? 0) + 1);
  }
  return out;
}

/** Every workload's departures from its own rules, by workload name then rule. */
export function ruleViolations(state: ClusterState): RuleViolation[] {
  const out: RuleViolation[] = [];
  const held = copiesPerNode(state);
  const names = [...state.workloads.keys()].sort();
  for (const name of names) {
    const rules = placementRules(state.workloads.get(name)!.spec.placement);
    const perNode = held.get(name) ?? new Map<string, number>();
    const labelOf = (node: string, label: string) => state.nodes.get(node)?.labels[label];
    if (rules.maxPerNode > 0) {
      const over = [...perNode].filter(([, n]) => n > rules.maxPerNode).map(([node, n]) => `${node} holds ${n}`);
      if (over.length > 0) out.push({ workload: name, rule: `maxPerNode ${rules.maxPerNode}`, detail: over.sort().join(", ") });
    }
    for (const rule of rules.spread) {
      const detail = spreadDeparture(rule, perNode, labelOf, valuesOf(state, rule.label));
      if (detail !== undefined) out.push({ workload: name, rule: `spread ${rule.label}${rule.hard ? " (wait)" : ""}`, detail });
    }
    for (const a of rules.affinity) {
      let total = 0;
      let matching = 0;
      for (const [node, n] of perNode) {
        total += n;
        if (labelOf(node, a.label) === a.value) matching += n;
      }
      const astray = a.weight > 0 ? total - matching : matching;
      if (astray > 0) out.push({ workload: name, rule: `affinity ${a.label}=${a.value}${a.weight < 0 ? " (avoid)" : ""}`, detail: `${astray} of ${total} ${total === 1 ? "copy" : "copies"} ${a.weight > 0 ? "elsewhere" : "there"}` });
    }
  }
  return out;
}

function valuesOf(state: ClusterState, label: string): string[] {
  const values = new Set<string>();
  for (const node of state.nodes.values()) if (node.labels[label] !== undefined) values.add(node.labels[label]!);
  return [...values].sort();
}

/** How a spread's copies depart from its shares by more than a copy (rounded), or undefined. */
function spreadDeparture(rule: SpreadRule, perNode: ReadonlyMap<string, number>, labelOf: (node: string, label: string) => string | undefined, values: string[]): string | undefined {
  const counts = new Map(values.map((v) => [v, 0]));
  let total = 0;
  let unlabelled = 0;
  for (const [node, n] of perNode) {
    total += n;
    const v = labelOf(node, rule.label);
    if (v === undefined) unlabelled += n;
    else counts.set(v, (counts.get(v) ?? 0) + n);
  }
  if (total === 0) return undefined;
  const wanted = (v: string) => shareOf(rule, v, values) * total;
  const off = values.filter((v) => Math.abs(counts.get(v)! - wanted(v)) > 1);
  if (off.length === 0 && unlabelled === 0) return undefined;
  const shown = values.map((v) => `${v} ${counts.get(v)}`).join(", ");
  return `${shown}${unlabelled > 0 ? `, ${unlabelled} without the label` : ""} (want ${values.map((v) => `${v} ${Math.round(wanted(v) * 10) / 10}`).join(", ")})`;
}
