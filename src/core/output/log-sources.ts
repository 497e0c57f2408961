/**
 * Whose output `ctl logs` reads, and on which node (PURE).
 *
 * Per replica (web-0): its current copy, the newest that has run, with its last ended copy to
 * fall back on when that one's node has none of its output; the last ended copy alone when no
 * copy of it has run yet (pending, backing off, placed but not started) or when `previous`
 * asks for it (as `kubectl logs --previous`). An instance id names one copy, read as it is.
 *
 * A replica's last ended copy is the one that ended last (failed, or finished after a stop)
 * among those that ran: one that never started printed nothing. The control plane forgets a
 * copy once it has stopped, so the event log says which copy that is and where it ran;
 * the state fills in what retention dropped from the log.
 */
import { type Instance, instanceName, instanceSeq, nameOfInstanceId } from "../model/cluster-state.js";
import type { Rejection } from "../model/rejections.js";

/** A copy whose output is asked of the node it ran on. */
export interface CopyOnNode {
  id: string;
  node: string;
}

/** One thing the event log says about a copy: where it was placed, that it ran, that it ended. */
export type CopyFact = { instance: string; fact: "placed"; node: string } | { instance: string; fact: "ran" } | { instance: string; fact: "ended" };

/** What an ended copy seen in the log is known to be, so far (its facts come newest first). */
interface Candidate {
  id: string;
  ran: boolean;
  /** Set by its placement: its oldest fact, after which nothing more is learnt of it. */
  node?: string;
}

/**
 * The last ended copy of each replica named, from the log's facts about the workload, newest
 * first (each replica's copies in the order they ended). Reading stops once each replica has
 * its answer, so a long history costs only its recent end. A copy whose placement retention
 * dropped is completed from `instances` when the state still holds it; a replica whose ends
 * were all dropped falls back to the state's failed copies (a copy that failed for good stays).
 */
export function lastEndedCopies(factsNewestFirst: Iterable<CopyFact>, replicas: ReadonlySet<string>, instances: readonly Instance[]): Map<string, CopyOnNode> {
  const found = new Map<string, CopyOnNode>();
  /** Per replica, the ended copies not yet ruled out, the latest to end first. */
  const queues = new Map<string, Candidate[]>();
  const candidates = new Map<string, Candidate>();
  /** Answers the replica once the first of its candidates that is settled either way ran. */
  const settle = (replica: string) => {
    const queue = queues.get(replica)!;
    while (queue.length > 0 && queue[0]!.node !== undefined) {
      const head = queue.shift()!;
      if (head.ran) {
        found.set(replica, { id: head.id, node: head.node! });
        return;
      }
    }
  };
  if (replicas.size > 0) {
    for (const f of factsNewestFirst) {
      const replica = nameOfInstanceId(f.instance);
      if (!replicas.has(replica) || found.has(replica)) continue;
      let c = candidates.get(f.instance);
      if (f.fact === "ended") {
        if (c !== undefined) continue; // failed, then finished after its stop: it ended once
        c = { id: f.instance, ran: false };
        candidates.set(c.id, c);
        const queue = queues.get(replica);
        if (queue) queue.push(c);
        else queues.set(replica, [c]);
        continue;
      }
      if (c === undefined || c.node !== undefined) continue; // not ended, or settled already
      if (f.fact === "ran") c.ran = true;
      else {
        c.node = f.node;
        settle(replica);
        if (found.size === replicas.size) break;
      }
    }
  }
  const held = new Map(instances.map((i) => [i.id, i]));
  const copiesOf = byReplica(instances);
  for (const replica of replicas) {
    if (found.has(replica)) continue;
    // What retention dropped: the state's copy knows where it ran and whether it did.
    for (const c of queues.get(replica) ?? []) {
      const i = held.get(c.id);
      const node = c.node ?? i?.node ?? null;
      if (node !== null && (c.ran || (i !== undefined && i.runningSince !== null))) {
        found.set(replica, { id: c.id, node });
        break;
      }
    }
    if (found.has(replica)) continue;
    const failed = (copiesOf.get(replica) ?? [])
      .filter((i) => i.state === "failed" && i.node !== null && i.runningSince !== null)
      .sort((a, b) => (b.failedAt ?? 0) - (a.failedAt ?? 0) || instanceSeq(b.id) - instanceSeq(a.id))[0];
    if (failed) found.set(replica, { id: failed.id, node: failed.node! });
  }
  return found;
}

/** A workload's copies by replica. */
function byReplica(instances: readonly Instance[]): Map<string, Instance[]> {
  const of = new Map<string, Instance[]>();
  for (const i of instances) {
    const list = of.get(i.name);
    if (list) list.push(i);
    else of.set(i.name, [i]);
  }
  return of;
}

/** What a Logs request asks for. */
export interface LogsAsked {
  workload: string;
  /** A replica's name, a copy's id, or "" for every replica. */
  instance: string;
  previous: boolean;
}

/** What `instance` names in a workload: one of its replicas (web-0), one copy (web-0.3), or nothing of it. */
function named(workload: string, instance: string): "replica" | "copy" | undefined {
  if (!instance.startsWith(`${workload}-`)) return undefined;
  const rest = instance.slice(workload.length + 1);
  return /^\d+$/.test(rest) ? "replica" : /^\d+\.\d+$/.test(rest) ? "copy" : undefined;
}

/** The replicas a workload has now: those of its spec and any its state still holds (scaled down, stopping). */
function currentReplicas(workload: string, replicas: number, instances: readonly Instance[]): Set<string> {
  return new Set([...Array.from({ length: replicas }, (_, k) => instanceName(workload, k)), ...instances.map((i) => i.name)]);
}

/**
 * Which replicas' last ended copies a request needs (see lastEndedCopies), or why it cannot be
 * answered. A replica named alone may be one the workload no longer has: its copies' ends are
 * still in the log.
 */
export function replicasAsked(asked: LogsAsked, replicas: number, instances: readonly Instance[]): Set<string> | Rejection {
  if (asked.instance === "") return currentReplicas(asked.workload, replicas, instances);
  switch (named(asked.workload, asked.instance)) {
    case "replica":
      return new Set([asked.instance]);
    case "copy":
      if (asked.previous) return { kind: "InvalidArgument", field: "instance", expected: `a replica's name (${nameOfInstanceId(asked.instance)}) with previous: ${asked.instance} names one copy` };
      return new Set();
    default:
      return { kind: "UnknownInstance", id: asked.instance, workload: asked.workload };
  }
}

/** One replica's output: read the first copy; if it fails before sending a line, the next. */
export interface LogTarget {
  /** The replica's name, which prefixes its lines. */
  name: string;
  copies: CopyOnNode[];
}

/**
 * The copies to read for a request, per replica in index order, given the last ended copies of
 * the replicas it asks for (see replicasAsked). A replica with nothing to show is left out when
 * every replica is asked for; named alone, it is a refusal saying why.
 */
export function logTargets(asked: LogsAsked, replicas: number, instances: readonly Instance[], lastEnded: ReadonlyMap<string, CopyOnNode>): LogTarget[] | Rejection {
  if (named(asked.workload, asked.instance) === "copy") {
    const copy = instances.find((i) => i.id === asked.instance);
    if (copy === undefined) return { kind: "UnknownInstance", id: asked.instance, workload: asked.workload };
    if (copy.node === null || copy.runningSince === null) return { kind: "NeverRan", instance: copy.id };
    return [{ name: copy.name, copies: [{ id: copy.id, node: copy.node }] }];
  }
  const wanted = asked.instance === "" ? currentReplicas(asked.workload, replicas, instances) : new Set([asked.instance]);
  const index = (name: string) => Number(name.slice(name.lastIndexOf("-") + 1));
  const copiesOf = byReplica(instances);
  const targets: LogTarget[] = [];
  for (const name of [...wanted].sort((a, b) => index(a) - index(b))) {
    const ended = lastEnded.get(name);
    if (asked.previous) {
      if (ended) targets.push({ name, copies: [ended] });
      continue;
    }
    const current = (copiesOf.get(name) ?? [])
      .filter((i) => i.node !== null && i.runningSince !== null)
      .reduce<Instance | undefined>((a, b) => (a === undefined || instanceSeq(b.id) > instanceSeq(a.id) ? b : a), undefined);
    const copies = current ? [{ id: current.id, node: current.node! }] : [];
    if (ended && ended.id !== current?.id) copies.push(ended);
    if (copies.length > 0) targets.push({ name, copies });
  }
  if (targets.length > 0) return targets;
  if (asked.previous) return { kind: "NoEndedCopy", of: asked.instance || asked.workload };
  if (asked.instance === "") return targets;
  return currentReplicas(asked.workload, replicas, instances).has(asked.instance) ? { kind: "NeverRan", instance: asked.instance } : { kind: "UnknownInstance", id: asked.instance, workload: asked.workload };
}
