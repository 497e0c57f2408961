/**
 * How ctl shows what the API returns: enum values as words, instance tables, label lists,
 * proto3 JSON of a response, and the text of `describe`. Formatting only; no calls.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { GetNodeResponse, GetWorkloadResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { DesiredState, type Endpoint, type Event, type Instance, instanceStateToJSON, type Node, type NodeLimits, nodeHealthToJSON, type Workload, WorkloadKind, workloadKindToJSON, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { reasonWithStderr } from "../../src/core/output/stderr-tail.js";
import { describeHostVolumes } from "../../src/core/model/volumes.js";
import { toProtoJson } from "../../src/shell/proto-json.js";
import { age, renderTable } from "../table.js";

/** An enum value's proto name as a word: ("INSTANCE_STATE_RUNNING", "INSTANCE_STATE_") → "Running". */
function humanizeEnum(json: string, prefix: string): string {
  const w = json.replace(prefix, "").toLowerCase();
  return w.charAt(0).toUpperCase() + w.slice(1);
}

export const formatInstanceState = (s: number) => humanizeEnum(instanceStateToJSON(s), "INSTANCE_STATE_");

/** A workload's kind as a word: Service (unset), System, Batch. */
export const formatKind = (spec: WorkloadSpec | undefined) => humanizeEnum(workloadKindToJSON(spec?.kind || WorkloadKind.WORKLOAD_KIND_SERVICE), "WORKLOAD_KIND_");

/** How far a workload is, as `get` shows it: copies that serve (of any generation) of desired ones, a batch's runs that succeeded of its completions. */
export function progressOf(w: Workload): string {
  const s = w.status;
  return w.spec?.kind === WorkloadKind.WORKLOAD_KIND_BATCH ? `${s?.succeeded ?? 0}/${s?.desired ?? 0}` : `${s?.ready ?? 0}/${s?.desired ?? 0}`;
}

/** A wire event as the core's event: its type and time, and its fields from `detail`. */
export function clusterEventOf(e: Event): ClusterEvent {
  return { type: e.type, at: e.at?.getTime() ?? 0, ...(JSON.parse(e.detail) as object) } as ClusterEvent;
}

/** A node's health, and why nothing is placed on it when it is healthy but closed. */
export const formatNodeStatus = (n: Node) => humanizeEnum(nodeHealthToJSON(n.health), "NODE_HEALTH_") + (n.draining ? ",Draining" : n.schedulable ? "" : ",SchedulingDisabled");

export const INSTANCE_HEADER = ["NAME", "ID", "DESIRED", "STATE", "NODE", "PORTS", "ATTEMPT", "AGE", "REASON"];

/** Where a copy's ports answer: `http=10.0.0.1:20000,dns=10.0.0.1:20001/udp`. */
export function formatPorts(i: Instance): string {
  return i.ports.map((p) => `${p.name}=${i.address}:${p.hostPort}${p.protocol === "udp" ? "/udp" : ""}`).join(",") || "<none>";
}

export const instanceRow =
  (now: number) =>
  (i: Instance): string[] => [
    i.name,
    i.id,
    i.desiredState === DesiredState.DESIRED_STATE_RUN ? "Run" : "Stop",
    formatInstanceState(i.observedState),
    i.node || "<none>",
    formatPorts(i),
    String(i.attempt),
    age(i.updatedAt, now),
    // A failure's reason quotes the last line it wrote to stderr.
    reasonWithStderr(i.reason, i.stderrTail),
  ];

/** Under each instance that failed with output on stderr, that output's tail. */
function stderrTails(instances: Instance[]): string[] {
  return instances.filter((i) => i.stderrTail !== "").flatMap((i) => [`${i.name} (${i.id}) stderr:`, indent(i.stderrTail)]);
}

export const ENDPOINT_HEADER = ["INSTANCE", "PORT", "ENDPOINT", "READY", "NODE"];

/** One endpoint: the copy's id first (unique, unlike its name while a replacement starts). */
export const endpointRow = (e: Endpoint): string[] => [e.instance, e.portName, `${e.address}:${e.hostPort}${e.protocol === "udp" ? "/udp" : ""}`, e.ready ? "yes" : "no", e.node];

/**
 * `history`: one row per event, its summary last; under a failure, the end of the copy's
 * stderr (the event's `stderrTail`, up to 20 lines), each line behind a bar.
 */
export function historyTable(events: Event[]): string {
  const rows = renderTable(["SEQ", "TIME", "EVENT", "SUMMARY"], events.map((e) => [String(e.sequence), e.at?.toISOString() ?? "", e.type, e.summary])).split("\n");
  return [rows[0]!, ...events.flatMap((e, n) => [rows[n + 1]!, ...stderrTailOf(e).map((l) => `    | ${l}`)])].join("\n");
}

/** The stderr tail a failure's event carries (its `detail` holds the event's fields), as lines. */
function stderrTailOf(e: Event): string[] {
  if (e.type !== "InstanceTransitioned") return [];
  const tail = (JSON.parse(e.detail) as { event?: { stderrTail?: unknown } }).event?.stderrTail;
  return typeof tail === "string" && tail !== "" ? tail.split("\n") : [];
}

/** Recent events, oldest first, one readable line each. */
function eventTable(events: Event[]): string {
  if (events.length === 0) return "<none>";
  return renderTable(["TIME", "TYPE", "SUMMARY"], events.map((e) => [e.at?.toISOString() ?? "", e.type, e.summary]));
}

function instanceTable(instances: Instance[], now: number): string {
  if (instances.length === 0) return "<none>";
  return renderTable(INSTANCE_HEADER, instances.map(instanceRow(now)));
}

export function labelList(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",") || "<none>";
}

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");

/** A message as proto3 JSON, through its binary form: the one JSON mapping manifests use too. */
export function protoJson<T>(typeName: string, codec: { encode(m: T): { finish(): Uint8Array } }, message: T): JsonValue {
  return toProtoJson(typeName, codec.encode(message).finish());
}

/** A response's structured form (`-o json|yaml`): its proto3 JSON as JSON or YAML text. */
export function renderDocument(format: "json" | "yaml", json: JsonValue): string {
  return format === "json" ? JSON.stringify(json, null, 2) : Bun.YAML.stringify(json, null, 2);
}

/** `describe workload`: the workload, its spec as YAML, its instances, endpoints and recent events. */
export function describeWorkload(res: GetWorkloadResponse, endpoints: Endpoint[], now: number): string {
  const w = res.workload!;
  const spec = w.spec!;
  const out: string[] = [
    `Name:        ${w.name}`,
    `Generation:  ${w.generation}`,
    `Kind:        ${formatKind(spec)}`,
    (spec.schedule ?? "") !== ""
      ? `Status:      ${w.status?.phase}; last run ${w.status?.lastRun || "<none>"}${w.status?.lastRunOutcome ? `: ${w.status.lastRunOutcome}` : ""}; next ${w.status?.nextRunTime?.toISOString() ?? "<none>"}`
      : spec.kind === WorkloadKind.WORKLOAD_KIND_BATCH
      ? `Status:      ${w.status?.phase} (${w.status?.succeeded}/${w.status?.desired} succeeded, ${w.status?.failed} failed, ${w.status?.running} running); ${w.status?.rollout}`
      : `Status:      ${w.status?.phase} (${w.status?.ready}/${w.status?.desired} ready, ${w.status?.upToDate} up-to-date, ${w.status?.running} of the current spec running); rollout ${w.status?.rollout}`,
    `Created:     ${w.createdAt?.toISOString()} (${age(w.createdAt, now)} ago)`,
    `Labels:      ${labelList(w.labels)}`,
    `Usage:       ${describeUsage(res.instances)}`,
    "Spec:",
    indent(Bun.YAML.stringify(protoJson("tessera.v1.WorkloadSpec", WorkloadSpec, spec), null, 2).trimEnd()),
  ];
  const quarantines = quarantineLines(w);
  if (quarantines.length > 0) out.push("", "Crash-loop quarantines (no copy of this spec is placed there):", indent(quarantines.join("\n")));
  out.push("", "Instances:", indent(instanceTable(res.instances, now)));
  const tails = stderrTails(res.instances);
  if (tails.length > 0) out.push("", "Last stderr of failed instances:", indent(tails.join("\n")));
  out.push("", "Endpoints:", indent(endpoints.length === 0 ? "<none>" : renderTable(ENDPOINT_HEADER, endpoints.map(endpointRow))));
  out.push("", "Events:", indent(eventTable(res.events)));
  return out.join("\n");
}

/**
 * Where a workload's current spec is in crash-loop quarantine, until when, and how to lift it:
 * `describe workload` and `rollout status` show these lines.
 */
export function quarantineLines(w: Workload): string[] {
  return (w.status?.quarantines ?? []).map(
    (q) => `${q.node}: until ${q.until?.toISOString()} (${q.reason}); lift it: tessera ctl rollout unquarantine ${w.name} --node ${q.node}`,
  );
}

/** What a workload's copies use in all, from their agents' last samples (see `ctl top`). */
function describeUsage(instances: Instance[]): string {
  const sampled = instances.filter((i) => i.usage !== undefined);
  if (sampled.length === 0) return "<unknown> (no sample heard)";
  const cpu = sampled.reduce((sum, i) => sum + i.usage!.cpuMillis, 0);
  const mem = sampled.reduce((sum, i) => sum + i.usage!.memoryBytes, 0);
  return `cpu ${cpu}m, memory ${Math.round(mem / (1024 * 1024))}Mi (${sampled.length} running cop${sampled.length === 1 ? "y" : "ies"} sampled)`;
}

/** Whether a node holds process copies to their resources, as `describe node` says it. */
function describeLimits(limits: NodeLimits | undefined): string {
  if (limits === undefined) return "<unknown> (agent without the process executor, or older)";
  if (limits.enforcedBy !== "") return `enforced (${limits.enforcedBy}: memory, cpu, pids)`;
  const placed = limits.allowUnenforced ? "copies that state resources are placed here all the same" : "copies that state resources are placed elsewhere";
  return `not enforced (${limits.notEnforcedReason}); ${placed}`;
}

/** `describe node`: the node, its capacity, what it holds and its recent events. */
export function describeNode(res: GetNodeResponse, now: number): string {
  const n = res.node!;
  return [
    `Name:        ${n.name}`,
    `Status:      ${formatNodeStatus(n)}`,
    `Executors:   ${n.executors.join(",")}`,
    `Labels:      ${labelList(n.labels)}`,
    `Capacity:    cpu ${n.capacity?.cpuMillis ?? 0}m, memory ${n.capacity?.memoryMb ?? 0}Mi`,
    `Allocated:   cpu ${n.allocated?.cpuMillis ?? 0}m, memory ${n.allocated?.memoryMb ?? 0}Mi`,
    `Ports:       ${n.address === "" ? "<none> (agent without --advertise-address)" : `${n.address}, dynamic ${n.portRange?.from}-${n.portRange?.to}, reserved ${n.reservedPorts.map((r) => (r.from === r.to ? r.from : `${r.from}-${r.to}`)).join(",") || "<none>"}`}`,
    `Volumes:     ${describeHostVolumes(n.hostVolumes) || "<none> (agent without --host-volume)"}`,
    `Limits:      ${describeLimits(n.limits)}`,
    `Usage:       ${n.usage ? `cpu ${n.usage.cpuMillis}m, memory ${Math.round(n.usage.memoryBytes / (1024 * 1024))}Mi (its copies, sampled ${n.usage.sampledAt?.toISOString()})` : "<unknown> (no sample heard)"}`,
    `Last seen:   ${n.lastHeartbeat ? `${n.lastHeartbeat.toISOString()} (${age(n.lastHeartbeat, now)} ago)` : "<unknown> (heartbeats reach the leader only)"}`,
    `Version:     ${n.version}`,
    "",
    "Instances:",
    indent(instanceTable(res.instances, now)),
    "",
    "Events:",
    indent(eventTable(res.events)),
  ].join("\n");
}
