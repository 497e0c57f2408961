/**
 * A node pool's lifecycle decisions for cost runs (cost-run.ts), as data. PURE: how many nodes
 * to boot (or start) for the copies that wait, which empty nodes to let go once their idle
 * delay has passed, how many nodes a hybrid pool keeps on, and when a spot node is interrupted
 * (drawn from a seeded generator the caller owns).
 */
import type { Capacity } from "../core/model/cluster-state.js";

/** Copies of one shape that wait for a node (Pending: no node up can take them). */
export interface WaitingCopies {
  resources: Capacity;
  nodeSelector: Record<string, string>;
  count: number;
}

/** A pool as a boot decision sees it. */
export interface PoolRoom {
  name: string;
  capacity: Capacity;
  labels: Record<string, string>;
  /** Nodes asked for and not up yet: they will take waiting copies when they come. */
  coming: number;
  /** Nodes it may still boot or start (off or stopped). */
  available: number;
}

/** How many copies of a shape one node takes; 0 when none fits or its labels do not match. */
export function copiesPerNode(pool: Pick<PoolRoom, "capacity" | "labels">, copies: Pick<WaitingCopies, "resources" | "nodeSelector">): number {
  for (const [k, v] of Object.entries(copies.nodeSelector)) if (pool.labels[k] !== v) return 0;
  return Math.min(Math.floor(pool.capacity.cpuMillis / copies.resources.cpuMillis), Math.floor(pool.capacity.memoryMb / copies.resources.memoryMb));
}

/**
 * Nodes to ask each pool for, so that every waiting copy has a node coming: pools are tried in
 * order (the first that can take a shape takes what it can), nodes already coming count first,
 * and each shape is packed on nodes of its own (never fewer nodes than the copies need; a node
 * too many when shapes could share one).
 */
export function planBoots(waiting: readonly WaitingCopies[], pools: readonly PoolRoom[]): Map<string, number> {
  const need = new Map<string, number>(pools.map((p) => [p.name, 0]));
  /** Nodes each pool can still give: those coming and those it may boot. */
  const room = new Map<string, number>(pools.map((p) => [p.name, p.coming + p.available]));
  for (const w of waiting) {
    let left = w.count;
    for (const p of pools) {
      const per = copiesPerNode(p, w);
      if (per === 0 || left === 0) continue;
      const nodes = Math.min(Math.ceil(left / per), room.get(p.name)!);
      need.set(p.name, need.get(p.name)! + nodes);
      room.set(p.name, room.get(p.name)! - nodes);
      left = Math.max(0, left - nodes * per);
    }
  }
  const boots = new Map<string, number>();
  for (const p of pools) boots.set(p.name, Math.max(0, need.get(p.name)! - p.coming));
  return boots;
}

/** An up node of a pool and since when it has held no copy (null: it holds one). */
export interface UpNode {
  name: string;
  idleSince: number | null;
}

/**
 * The up nodes to let go at `now`: those empty for at least `idleDelayMs`, keeping `keep` nodes
 * up in all (a hybrid pool's baseline; the busy ones count first, then the lowest names), and
 * when the next such decision falls due (undefined: no empty node).
 */
export function planReleases(up: readonly UpNode[], now: number, idleDelayMs: number, keep: number): { release: string[]; nextAt: number | undefined } {
  const busy = up.filter((n) => n.idleSince === null).length;
  let spare = Math.max(0, up.length - Math.max(keep, busy));
  const idle = up.filter((n) => n.idleSince !== null).sort((a, b) => (a.name < b.name ? 1 : -1));
  const release: string[] = [];
  let nextAt: number | undefined;
  // Highest names go first, so the nodes kept are the same ones run after run.
  for (const n of idle) {
    if (spare === 0) break;
    const due = n.idleSince! + idleDelayMs;
    if (due <= now) {
      release.push(n.name);
      spare--;
    } else nextAt = Math.min(nextAt ?? due, due);
  }
  return { release: release.sort(), nextAt };
}

/** Nodes a hybrid pool keeps on: what the lowest demand it can take needs (each shape's lowest, packed as planBoots packs). */
export function baselineNodes(pool: Pick<PoolRoom, "capacity" | "labels">, lowest: readonly WaitingCopies[]): number {
  return lowest.reduce((n, w) => {
    const per = copiesPerNode(pool, w);
    return per === 0 ? n : n + Math.ceil(w.count / per);
  }, 0);
}

/** Ms until a spot node is interrupted, at `perHour` interruptions per node-hour (exponential; Infinity at rate 0). */
export function interruptionAfterMs(random: () => number, perHour: number): number {
  if (perHour <= 0) return Number.POSITIVE_INFINITY;
  return Math.max(1, Math.round((-Math.log(1 - random()) / perHour) * 3_600_000));
}
