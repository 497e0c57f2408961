/**
 * Rollout waves (update.waves): which wave a copy belongs to, and the gate that replaces old
 * copies wave by wave. PURE.
 *
 * A copy belongs to the first wave whose node_selector its node carries; copies matching none,
 * or not placed, form a last wave of their own. A wave's old copies are replaced only once no
 * earlier wave has old copies left and every new copy is available (Ready and soaked): a
 * rollout whose new copies fail halts at its wave. While old copies remain, copies of the new
 * template go only to the nodes of the waves that have started (a canary, or a replacement
 * placed before any wave started, opens the first wave that has old copies).
 */
import { availableAt, isAvailable } from "../model/cluster-status.js";
import type { ClusterView, Instance, NodeRecord, Workload } from "../model/cluster-state.js";
import type { Hold } from "./gates.js";
import type { NodeFilter } from "./placement.js";

export function waveOf(waves: ReadonlyArray<Record<string, string>>, node: NodeRecord | undefined): number {
  if (node !== undefined) {
    for (let w = 0; w < waves.length; w++) {
      const selector = waves[w]!;
      let matches = true;
      for (const key in selector) if (node.labels[key] !== selector[key]) matches = false;
      if (matches) return w;
    }
  }
  return waves.length;
}

/**
 * How many waves a rollout has: the declared ones, and the last one when some placed copy
 * matches none (a Pending copy is in no wave yet: counting it would change the count as copies
 * wait and are placed).
 */
export function waveCount(waves: ReadonlyArray<Record<string, string>>, copies: Instance[], state: ClusterView): number {
  return copies.some((i) => i.node !== null && waveOf(waves, state.nodes.get(i.node)) === waves.length) ? waves.length + 1 : waves.length;
}

export interface WaveOrder {
  /** How many waves the rollout has. */
  count: number;
  /** Whether an old copy may be replaced now; a hold naming the wave and what holds it if not. */
  gate(old: Instance): Hold | undefined;
  /** Where a copy of the new template may be placed now; undefined when no old copy is left. */
  placement: NodeFilter | undefined;
  /**
   * A wave this pass moved on to (its old copies started being replaced, or, before any wave
   * started, `placedNew`: a copy of the new template was placed in the first), if any.
   */
  started(placedNew: boolean): number | undefined;
}

/**
 * The wave gate for one pass over one workload of `replicas` copies. `old` are its copies being
 * replaced by the rollout, `fresh` its live copies of the current template; `minHealthyMs` the
 * soak. A new wave opens once every replica not still held by an old copy of that wave or a
 * later one has an available new copy.
 */
export function waveOrder(state: ClusterView, workload: Workload, replicas: number, waves: ReadonlyArray<Record<string, string>>, old: Instance[], fresh: Instance[], minHealthyMs: number, now: number): WaveOrder {
  const waveOfCopy = (i: Instance) => waveOf(waves, i.node === null ? undefined : state.nodes.get(i.node));
  const count = waveCount(waves, [...old, ...fresh], state);
  const lowest = old.reduce((m, i) => Math.min(m, waveOfCopy(i)), Number.POSITIVE_INFINITY);
  const available = fresh.filter((i) => isAvailable(i, minHealthyMs, now)).length;
  const unsoaked = fresh.filter((i) => !isAvailable(i, minHealthyMs, now)).sort((a, b) => (availableAt(a, minHealthyMs) ?? Infinity) - (availableAt(b, minHealthyMs) ?? Infinity))[0];
  let current = workload.wave;
  let moved: number | undefined;
  // Before any wave started, the first to start is where a new copy may go.
  const open = () => (current >= 0 ? current : lowest);
  const selectors = old.length === 0 ? "" : JSON.stringify(waves);
  const placement: NodeFilter | undefined =
    old.length === 0
      ? undefined
      : {
          refusal(node) {
            const w = waveOf(waves, node);
            return w <= open() ? undefined : `in rollout wave ${w + 1} of ${count}, not started`;
          },
          key: () => `waves up to ${open()} of ${count}: ${selectors}`,
        };
  return {
    count,
    placement,
    gate(copy) {
      const w = waveOfCopy(copy);
      if (w > lowest) return { gate: "wave", reason: `wave ${w + 1} of ${count} held: wave ${lowest + 1} still has old copies` };
      if (w <= current) return undefined;
      const needed = replicas - old.filter((i) => waveOfCopy(i) >= w).length;
      if (available < needed) {
        const at = unsoaked === undefined ? undefined : availableAt(unsoaked, minHealthyMs);
        const why = `${available} of ${needed} new copies available${unsoaked === undefined ? "" : at === undefined ? ` (${unsoaked.id} not Ready yet)` : ` (${unsoaked.id} soaking)`}`;
        return at === undefined ? { gate: "wave", reason: `wave ${w + 1} of ${count} held: ${why}` } : { gate: "wave", reason: `wave ${w + 1} of ${count} held: ${why}`, until: at };
      }
      current = w;
      moved = w;
      return undefined;
    },
    started: (placedNew) => moved ?? (placedNew && current < 0 && placement !== undefined ? lowest : undefined),
  };
}
