/**
 * A workload spec with every default applied, in the units the core computes with. PURE.
 * Defaults live here and nowhere else; the proto comments state the same values.
 */
import type { Duration } from "../../gen/google/protobuf/duration.js";
import type { ConcurrencyPolicy, RestartMode, WorkloadKind, WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { ClusterState } from "./cluster-state.js";
import { type PlacementRules, placementRules } from "./placement-rules.js";
import { type PortRequest, portRequests, portShape } from "./ports.js";
import { readSchedule, type Schedule } from "./schedule.js";
import { changeMode, type SecretNeeds, secretNeeds } from "./secret-use.js";
import { type HostVolumeNeed, hostVolumeNeeds, type VolumeMount, volumeMounts, volumeShape } from "./volumes.js";

export type RestartModeName = "always" | "on_failure" | "never";
export type WorkloadKindName = "service" | "system" | "batch";

export interface ResolvedSpec {
  kind: WorkloadKindName;
  /** Copies wanted: a service's replicas; a batch's completions; 0 for a system workload (its nodes decide). */
  replicas: number;
  executor: "process" | "docker";
  cpuMillis: number;
  memoryMb: number;
  /** The spec states resources (not the defaults): an agent holds the copy to them, and places it only where it can (placement.ts). */
  statesLimits: boolean;
  nodeSelector: Record<string, string>;
  restart: RestartModeName;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxUnavailable: number;
  maxSurge: number;
  /** New copies started beside the old ones before the rollout is promoted; 0: no canary. */
  canary: number;
  autoPromote: boolean;
  /** A new copy is available once it has been Ready this long (unset: 0 with readiness checks, 10 s without). */
  minHealthyMs: number;
  autoRevert: boolean;
  /** Node selectors of the rollout's waves, in order; empty: no waves. */
  waves: Array<Record<string, string>>;
  stopGracePeriodMs: number;
  /** A copy that ran this long before failing is restarted with the backoff reset. */
  restartResetMs: number;
  /** Names of the readiness checks. */
  readinessChecks: string[];
  /** A rollout not complete this long after it started is stalled. */
  progressDeadlineMs: number;
  ports: PortRequest[];
  /** What placement's feasibility depends on in `ports` (see portShape). */
  portShape: string;
  /** Batch: copies running at once, at most. */
  parallelism: number;
  /** Batch: failed runs retried before the workload is Failed. */
  backoffLimit: number;
  /** Batch: a finished workload is deleted this long after; undefined: kept. */
  ttlAfterFinishedMs: number | undefined;
  volumes: VolumeMount[];
  /** The host volumes among `volumes`: a node must offer each (writable unless read_only). */
  hostVolumes: HostVolumeNeed[];
  /** What placement's feasibility depends on in `volumes` (see volumeShape). */
  volumeShape: string;
  /** The workload's own placement rules (spec.placement). */
  placement: PlacementRules;
  /** A periodic batch (spec.schedule): it runs nothing itself, it starts runs; undefined otherwise. */
  periodic: PeriodicSpec | undefined;
  /** The secrets and configs its copies use: none may be missing where a copy is placed. */
  secretNeeds: SecretNeeds;
}

export type ConcurrencyName = "allow" | "forbid" | "replace";

/** What a periodic batch's spec says of its runs. */
export interface PeriodicSpec {
  schedule: Schedule;
  concurrency: ConcurrencyName;
  /** A missed run starts late within this; undefined: no limit. */
  startingDeadlineMs: number | undefined;
  /** Finished runs kept. */
  keepRuns: number;
}

export const SPEC_DEFAULTS = {
  replicas: 1,
  cpuMillis: 100,
  memoryMb: 64,
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  maxUnavailable: 1,
  maxSurge: 1,
  stopGracePeriodMs: 10_000,
  progressDeadlineMs: 60_000,
  // A copy without readiness checks is available once it has run this long (Nomad's
  // min_healthy_time): a binary that crashes at start never replaces a copy that serves.
  minHealthyWithoutChecksMs: 10_000,
  completions: 1,
  parallelism: 1,
  backoffLimit: 6,
  keepRuns: 3,
} as const;

/** A copy that ran for this many max_backoffs before failing restarts the backoff (30s → 5 min). */
const RESTART_RESET_FACTOR = 10;

/** Milliseconds in a proto Duration; undefined when unset. */
export function durationMs(d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  return d.seconds * 1000 + Math.floor(d.nanos / 1e6);
}

/** tessera.v1.RestartMode by number (the core imports only types from generated code). */
const MODES: { [M in RestartMode]: RestartModeName } = {
  0: "always", // RESTART_MODE_UNSPECIFIED
  1: "always", // RESTART_MODE_ALWAYS
  2: "on_failure", // RESTART_MODE_ON_FAILURE
  3: "never", // RESTART_MODE_NEVER
  [-1]: "always", // UNRECOGNIZED
};

/** tessera.v1.WorkloadKind by number. */
const KINDS: { [K in WorkloadKind]: WorkloadKindName } = {
  0: "service", // WORKLOAD_KIND_UNSPECIFIED
  1: "service", // WORKLOAD_KIND_SERVICE
  2: "system", // WORKLOAD_KIND_SYSTEM
  3: "batch", // WORKLOAD_KIND_BATCH
  [-1]: "service", // UNRECOGNIZED
};

/** tessera.v1.ConcurrencyPolicy by number. */
const CONCURRENCY: { [C in ConcurrencyPolicy]: ConcurrencyName } = {
  0: "allow", // CONCURRENCY_POLICY_UNSPECIFIED
  1: "allow", // CONCURRENCY_POLICY_ALLOW
  2: "forbid", // CONCURRENCY_POLICY_FORBID
  3: "replace", // CONCURRENCY_POLICY_REPLACE
  [-1]: "allow", // UNRECOGNIZED
};

/** What a batch's schedule fields say, or undefined for a workload without a schedule. */
function periodicOf(spec: WorkloadSpec, kind: WorkloadKindName): PeriodicSpec | undefined {
  const schedule = kind === "batch" ? readSchedule(spec.schedule ?? "", spec.timeZone ?? "") : undefined;
  if (schedule === undefined) return undefined;
  return {
    schedule,
    concurrency: CONCURRENCY[spec.concurrency ?? 0] ?? "allow",
    startingDeadlineMs: durationMs(spec.startingDeadline),
    keepRuns: spec.keepRuns ?? SPEC_DEFAULTS.keepRuns,
  };
}

/**
 * The spec of a periodic batch's run: the batch it describes, without what schedules it. Its
 * fields keep their places, so the run's spec reads back from the store (proto3 JSON, fields in
 * the proto's order) as the same text: sameTemplate compares specs as text.
 */
export function runSpec(spec: WorkloadSpec): WorkloadSpec {
  return { ...spec, schedule: "", timeZone: "", concurrency: 0, startingDeadline: undefined, keepRuns: undefined };
}

/** A workload's kind, without resolving the rest of its spec. */
export function kindOf(spec: WorkloadSpec): WorkloadKindName {
  return KINDS[spec.kind ?? 0] ?? "service";
}

/**
 * Resolved specs by spec object: every reconcile pass resolves every workload's spec, and a
 * spec is never mutated (an apply replaces it), so the result is computed once. A WeakMap
 * keeps this pure in effect: same input, same (frozen) output, and nothing outlives the spec.
 */
const resolved = new WeakMap<WorkloadSpec, ResolvedSpec>();

export function resolveSpec(spec: WorkloadSpec): ResolvedSpec {
  let r = resolved.get(spec);
  if (!r) resolved.set(spec, (r = Object.freeze(resolveNow(spec))));
  return r;
}

function resolveNow(spec: WorkloadSpec): ResolvedSpec {
  const kind = kindOf(spec);
  const memoryMb = spec.resources?.memoryMb || SPEC_DEFAULTS.memoryMb;
  const volumes = volumeMounts(spec, memoryMb);
  const hostVolumes = hostVolumeNeeds(volumes);
  const readinessChecks = (spec.checks ?? []).filter((c) => c.role !== 2).map((c) => c.name);
  const ports = portRequests(spec);
  return {
    kind,
    replicas: kind === "system" ? 0 : kind === "batch" ? (spec.completions ?? SPEC_DEFAULTS.completions) : (spec.replicas ?? SPEC_DEFAULTS.replicas),
    executor: spec.image !== "" ? "docker" : "process",
    cpuMillis: spec.resources?.cpuMillis || SPEC_DEFAULTS.cpuMillis,
    memoryMb,
    statesLimits: !!(spec.resources?.cpuMillis || spec.resources?.memoryMb),
    nodeSelector: spec.nodeSelector,
    restart: MODES[spec.restartPolicy?.mode ?? 0] ?? "always",
    initialBackoffMs: durationMs(spec.restartPolicy?.initialBackoff) ?? SPEC_DEFAULTS.initialBackoffMs,
    maxBackoffMs: durationMs(spec.restartPolicy?.maxBackoff) ?? SPEC_DEFAULTS.maxBackoffMs,
    maxUnavailable: spec.update?.maxUnavailable ?? SPEC_DEFAULTS.maxUnavailable,
    maxSurge: spec.update?.maxSurge ?? SPEC_DEFAULTS.maxSurge,
    canary: spec.update?.canary ?? 0,
    autoPromote: spec.update?.autoPromote ?? false,
    minHealthyMs: durationMs(spec.update?.minHealthyTime) ?? (readinessChecks.length === 0 ? SPEC_DEFAULTS.minHealthyWithoutChecksMs : 0),
    autoRevert: spec.update?.autoRevert ?? false,
    waves: (spec.update?.waves ?? []).map((w) => w.nodeSelector),
    stopGracePeriodMs: durationMs(spec.stopGracePeriod) ?? SPEC_DEFAULTS.stopGracePeriodMs,
    restartResetMs: RESTART_RESET_FACTOR * (durationMs(spec.restartPolicy?.maxBackoff) ?? SPEC_DEFAULTS.maxBackoffMs),
    readinessChecks,
    progressDeadlineMs: durationMs(spec.progressDeadline) ?? SPEC_DEFAULTS.progressDeadlineMs,
    ports,
    portShape: portShape(ports),
    parallelism: spec.parallelism ?? SPEC_DEFAULTS.parallelism,
    backoffLimit: spec.backoffLimit ?? SPEC_DEFAULTS.backoffLimit,
    ttlAfterFinishedMs: durationMs(spec.ttlAfterFinished),
    volumes,
    hostVolumes,
    volumeShape: volumeShape(hostVolumes),
    secretNeeds: secretNeeds(spec),
    placement: placementRules(spec.placement),
    periodic: periodicOf(spec, kind),
  };
}

/** How long a copy of workload `name` is given to stop: the default once the workload is gone. */
export function stopGracePeriodOf(state: ClusterState, name: string): number {
  const w = state.workloads.get(name);
  return w ? resolveSpec(w.spec).stopGracePeriodMs : SPEC_DEFAULTS.stopGracePeriodMs;
}

/** What a spec says that does not change what a copy runs: changing only these rolls no copy. */
type AroundTheRuns = "replicas" | "update" | "completions" | "parallelism" | "backoffLimit" | "ttlAfterFinished" | "progressDeadline" | "stopGracePeriod" | "restartPolicy" | "placement";

/**
 * The part of a spec that an instance runs: everything but how many (replicas, a batch's
 * completions and parallelism), where (placement: it shapes where new copies go, never moves
 * one), the update strategy and its progress deadline, and what the
 * control plane does around the runs (restart policy, stop grace period, backoff limit, time to
 * live): those are read from the current spec when they apply, never from a copy's (a stop
 * sends the current grace period), so a change of them alone replaces nothing.
 */
export function instanceTemplate(spec: WorkloadSpec): Omit<WorkloadSpec, AroundTheRuns | "secretVersions" | "onChange"> & Partial<Pick<WorkloadSpec, "secretVersions" | "onChange">> {
  const { replicas: _r, update: _u, completions: _c, parallelism: _p, backoffLimit: _b, ttlAfterFinished: _t, progressDeadline: _d, stopGracePeriod: _g, restartPolicy: _rp, placement: _pl, secretVersions, onChange, ...template } = spec;
  // Under on_change SIGNAL or NONE the versions are written in place in the running copies
  // (RefreshSecrets), so they are not part of what a copy runs. Unset and RESTART are one mode:
  // a spec stored before the field runs what one naming RESTART runs.
  if (changeMode(spec) !== "restart") return { ...template, onChange };
  return secretVersions === undefined ? template : { ...template, secretVersions };
}

/** Whether two specs run the same thing (what a rollout replaces copies for). */
export function sameTemplate(a: WorkloadSpec, b: WorkloadSpec): boolean {
  return JSON.stringify(instanceTemplate(a)) === JSON.stringify(instanceTemplate(b));
}
