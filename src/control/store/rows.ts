/**
 * Rows ↔ the core's records, one function each way per table: `load` reads rows back with the
 * same functions `commit` wrote them with, so a column added to one direction cannot be
 * forgotten in the other. Specs are kept as proto3 JSON.
 */
import { type ClusterEvent, EVENT_VERSION } from "../../core/events/cluster-events.js";
import type { StoredState } from "../../core/events/stored-state.js";
import { type Instance, instanceName, type NodeRecord, type Workload, workloadOfInstanceId } from "../../core/model/cluster-state.js";
import { touches } from "../../core/events/event-facts.js";
import type { InstanceState } from "../../core/model/instance-machine.js";
import type { CopyFact } from "../../core/output/log-sources.js";
import { specAtRevision } from "../../core/events/rollout-history.js";
import { sharingEmpties } from "../../core/model/shared-empties.js";
import { erasBefore } from "../../core/model/template-eras.js";
import { WorkloadSpec as WireSpec } from "../../gen/tessera/v1/types.js";
import type * as schema from "./sqlite/schema.js";

type WorkloadRow = typeof schema.workloads.$inferSelect;
type InstanceRow = typeof schema.instances.$inferSelect;
type NodeRow = typeof schema.nodes.$inferSelect;
type EventRow = typeof schema.events.$inferSelect;

/** The meta key of when the leader last started listening to agents (ListeningStarted), for a follower's snapshot. */
export const LISTENING_SINCE_KEY = "listening_since";

/** A logged event with its sequence number and the entities the log indexes it under. */
export interface StoredEvent {
  seq: number;
  /** Entities the event concerns, as indexed in the log. */
  workload: string | null;
  instance: string | null;
  node: string | null;
  event: ClusterEvent;
}

export function workloadToRow(w: Workload): WorkloadRow {
  return {
    name: w.name,
    labels: w.labels,
    spec: WireSpec.toJSON(w.spec),
    generation: w.generation,
    templateGeneration: w.templateGeneration,
    restartSeq: w.restartSeq,
    templateChangedAt: w.templateChangedAt,
    progressSince: w.progressSince,
    previousSpec: w.previousSpec === null ? null : WireSpec.toJSON(w.previousSpec),
    deleting: w.deleting,
    createdAt: w.createdAt,
    failures: w.failures,
    finished: w.finished,
    promoted: w.promoted,
    stable: w.stable === null ? null : { spec: WireSpec.toJSON(w.stable.spec), generation: w.stable.generation },
    quarantined: w.quarantined.map((q) => ({ spec: WireSpec.toJSON(q.spec), generation: q.generation, reason: q.reason })),
    reverted: w.reverted,
    eras: w.eras.map((e) => ({ from: e.from, template: e.template, spec: WireSpec.toJSON(e.spec) })),
    paused: w.paused,
    wave: w.wave,
    rolloutHold: w.rolloutHold,
    periodic: w.periodic,
    runOf: w.runOf,
  };
}

interface StoredSpecAt {
  spec: unknown;
  generation: number;
}

export function workloadFromRow(r: WorkloadRow): Workload {
  const eras = (r.eras as Array<{ from: number; template: number; spec: unknown }>).map((e) => ({ from: e.from, template: e.template, spec: WireSpec.fromJSON(e.spec) }));
  const w: Workload = {
    name: r.name,
    labels: r.labels,
    spec: WireSpec.fromJSON(r.spec),
    generation: r.generation,
    templateGeneration: r.templateGeneration,
    restartSeq: r.restartSeq,
    templateChangedAt: r.templateChangedAt,
    progressSince: r.progressSince,
    previousSpec: r.previousSpec === null ? null : WireSpec.fromJSON(r.previousSpec),
    deleting: r.deleting,
    createdAt: r.createdAt,
    failures: r.failures,
    finished: r.finished,
    promoted: r.promoted,
    stable: r.stable === null ? null : { spec: WireSpec.fromJSON((r.stable as StoredSpecAt).spec), generation: (r.stable as StoredSpecAt).generation },
    quarantined: (r.quarantined as Array<StoredSpecAt & { reason: string }>).map((q) => ({ spec: WireSpec.fromJSON(q.spec), generation: q.generation, reason: q.reason })),
    reverted: r.reverted,
    eras,
    paused: r.paused,
    wave: r.wave,
    rolloutHold: r.rolloutHold,
    periodic: r.periodic ?? null,
    runOf: r.runOf ?? null,
  };
  // A store from before eras were recorded: what it kept says which copies are current.
  return sharingEmpties(eras.length > 0 ? w : { ...w, eras: erasBefore(w) });
}

export function instanceToRow(i: Instance): InstanceRow {
  return {
    id: i.id,
    workload: i.workload,
    index: i.index,
    generation: i.generation,
    node: i.node,
    desired: i.desired,
    state: i.state,
    attempt: i.attempt,
    cpuMillis: i.resources.cpuMillis,
    memoryMb: i.resources.memoryMb,
    readinessChecks: i.readinessChecks,
    passing: i.passing,
    ports: i.ports,
    reason: i.reason,
    exitCode: i.exitCode,
    stderrTail: i.stderrTail,
    failedAt: i.failedAt,
    runningSince: i.runningSince,
    readySince: i.readySince,
    updatedAt: i.updatedAt,
  };
}

/** The name is not stored: it follows from the workload and index. */
export function instanceFromRow(r: InstanceRow): Instance {
  return sharingEmpties({
    id: r.id,
    name: instanceName(r.workload, r.index),
    workload: r.workload,
    index: r.index,
    generation: r.generation,
    node: r.node,
    desired: r.desired,
    state: r.state as InstanceState,
    attempt: r.attempt,
    resources: { cpuMillis: r.cpuMillis, memoryMb: r.memoryMb },
    readinessChecks: r.readinessChecks,
    passing: r.passing,
    ports: r.ports,
    reason: r.reason,
    exitCode: r.exitCode,
    stderrTail: r.stderrTail,
    failedAt: r.failedAt,
    runningSince: r.runningSince,
    readySince: r.readySince,
    updatedAt: r.updatedAt,
  });
}

/** `connected` and `session` are the leader's as of the commit: a follower's snapshot holds them, a start drops them (restoreState). */
export function nodeToRow(n: NodeRecord): NodeRow {
  return {
    name: n.name,
    executors: n.executors,
    version: n.version,
    lastHeartbeatAt: n.lastHeartbeatAt,
    labels: n.labels,
    cpuMillis: n.capacity.cpuMillis,
    memoryMb: n.capacity.memoryMb,
    health: n.health,
    schedulable: n.schedulable,
    draining: n.draining,
    ports: n.ports,
    volumes: n.volumes,
    connected: n.connected,
    session: n.session,
    limits: n.limits ?? null,
  };
}

export function nodeFromRow(r: NodeRow): NodeRecord {
  return {
    name: r.name,
    executors: r.executors,
    version: r.version,
    labels: r.labels,
    capacity: { cpuMillis: r.cpuMillis, memoryMb: r.memoryMb },
    ports: r.ports,
    volumes: r.volumes,
    health: r.health,
    schedulable: r.schedulable,
    draining: r.draining,
    connected: r.connected,
    session: r.session,
    lastHeartbeatAt: r.lastHeartbeatAt,
    ...(r.limits === null ? {} : { limits: r.limits }),
  };
}

/**
 * The log's row of an event (its sequence number is assigned on insert). An instance's events
 * are indexed under its workload too, and a placement under the node it names.
 */
export function eventToRow(e: ClusterEvent): Omit<EventRow, "seq"> {
  const t = touches(e);
  return {
    at: e.at,
    version: EVENT_VERSION,
    type: e.type,
    workload: t.workload ?? (t.instance ? workloadOfInstanceId(t.instance) : null),
    instance: t.instance ?? null,
    node: t.node ?? (e.type === "InstanceTransitioned" && e.event.type === "place" ? e.event.node : null),
    data: eventData(e),
  };
}

/**
 * An event's `data` column: the event as JSON, a WorkloadApplied's specs as proto3 JSON (what
 * the workloads table keeps: the defaults left out; a spec that states little takes less than
 * half the object's bytes, one of many enums set a few more, as each is named).
 */
function eventData(e: ClusterEvent): string {
  if (e.type !== "WorkloadApplied") return JSON.stringify(e);
  const { previousSpec } = e;
  return JSON.stringify({ ...e, workload: { ...e.workload, spec: WireSpec.toJSON(e.workload.spec) }, ...(previousSpec ? { previousSpec: WireSpec.toJSON(previousSpec) } : {}) });
}

/** The event a `data` column holds (eventData's inverse). */
export function eventOfData(data: string): ClusterEvent {
  const e = JSON.parse(data) as ClusterEvent;
  if (e.type !== "WorkloadApplied") return e;
  const { previousSpec } = e;
  return { ...e, workload: { ...e.workload, spec: storedSpec(e.workload.spec) }, ...(previousSpec ? { previousSpec: storedSpec(previousSpec) } : {}) };
}

/**
 * A spec as an event's row holds it: proto3 JSON, or the object whole as rows written before
 * were. The whole object always has `kind`, a number; proto3 JSON writes an enum by its name,
 * or leaves it out. (The two differ beyond defaults: a oneof is `{$case, value}` in the object.)
 */
function storedSpec(stored: unknown): WireSpec {
  return typeof (stored as { kind?: unknown }).kind === "number" ? (stored as WireSpec) : WireSpec.fromJSON(stored);
}

/** The spec of revision `revision` among a workload's rows of the REVISION_EVENTS types, oldest first. */
export function revisionSpecIn(rows: EventRow[], revision: number): WireSpec | undefined {
  return specAtRevision(rows.map((r) => eventFromRow(r).event), revision);
}

export function eventFromRow(r: EventRow): StoredEvent {
  return { seq: r.seq, workload: r.workload, instance: r.instance, node: r.node, event: eventOfData(r.data) };
}

/** A row of the log's copy facts: an instance's place, run, fail or finish (`kind`). */
export function copyFactFromRow(r: { instance: string; node: string | null; kind: string }): CopyFact {
  if (r.kind === "place") return { instance: r.instance, fact: "placed", node: r.node ?? "" };
  return { instance: r.instance, fact: r.kind === "run" ? "ran" : "ended" };
}

/**
 * Recent failures (for crash-loop quarantine) from the log's placements (a node), failures
 * (none) and quarantine lifts (`lifted`: the workload, and the node when one was named), in log
 * order: a failure counts against the node the instance was last placed on; a lift forgets the
 * failures before it. When retention dropped a placement, the instance's row (`placedNow`)
 * still names its node if it exists.
 */
export function failuresFromRows(
  rows: Iterable<{ instance: string | null; node: string | null; at: number; lifted: string | null }>,
  placedNow: ReadonlyMap<string, string | null>,
): StoredState["failures"] {
  const placedOn = new Map<string, string>();
  let out: StoredState["failures"] = [];
  for (const r of rows) {
    if (r.lifted !== null) {
      out = out.filter((f) => f.workload !== r.lifted || (r.node !== null && f.node !== r.node));
      continue;
    }
    if (r.instance === null) continue;
    if (r.node !== null) {
      placedOn.set(r.instance, r.node);
      continue;
    }
    const node = placedOn.get(r.instance) ?? placedNow.get(r.instance) ?? null;
    if (node !== null) out.push({ workload: workloadOfInstanceId(r.instance), node, at: r.at, instance: r.instance });
  }
  return out;
}
