/**
 * Validation of user input, field by field. PURE. Every refusal names the field and what was
 * expected, so a user can fix a manifest without reading source.
 */
import type { Duration } from "../../gen/google/protobuf/duration.js";
import type { Placement, WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { formatDurationMs } from "./duration.js";
import { durationMs, kindOf, SPEC_DEFAULTS, type WorkloadKindName } from "./spec.js";
import { invalidArgument, type Rejection } from "./rejections.js";
import { isDnsLabel } from "./dns-label.js";
import { validateReferences } from "./port-env.js";
import { validateSecretUse } from "./secret-use.js";
import { validatePorts } from "./ports.js";
import { validateVolumes } from "./volumes.js";
import { validateDisconnect } from "./disconnect.js";
import { validateSchedule } from "./validate-schedule.js";

/** Upper bound on replicas per workload; a typo of 1000000 should not flood a fleet. */
export const MAX_REPLICAS = 10_000;

export const MAX_CPU_MILLIS = 1_024_000;
/** Largest spec (with labels) accepted, as JSON; lists page (core/paging.ts), so any number fit. */
export const MAX_SPEC_BYTES = 256 * 1024;
export const MAX_MEMORY_MB = 16 * 1024 * 1024;
/** Durations longer than a day are almost certainly mistakes. */
const MAX_DURATION_MS = 86_400_000;

const LABEL_KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]{0,251}[A-Za-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface WorkloadInput {
  name: string;
  labels: Record<string, string>;
  spec: WorkloadSpec | undefined;
}

function durationProblem(d: Duration | undefined, field: string, maxMs = MAX_DURATION_MS): Rejection | undefined {
  if (d === undefined) return undefined;
  const ms = durationMs(d)!;
  if (d.seconds < 0 || d.nanos < 0) return invalidArgument(field, "a non-negative duration");
  if (d.nanos > 999_999_999) return invalidArgument(field, `nanos from 0 to 999999999, got ${d.nanos}`);
  if (ms > maxMs) return invalidArgument(field, `at most ${formatDurationMs(maxMs)}, got ${ms / 1000}s`);
  return undefined;
}

/** A finished batch kept this long at most before ttl_after_finished deletes it. */
const MAX_TTL_MS = 30 * MAX_DURATION_MS;
/** Retries of a batch's failed runs, at most. */
export const MAX_BACKOFF_LIMIT = 1_000;

/** What a workload's kind allows: replicas for services only, the batch fields for batches only. */
function validateKind(spec: WorkloadSpec): Rejection[] {
  const problems: Rejection[] = [];
  // Absent in specs recorded before kinds (golden logs): a service.
  if (![0, 1, 2, 3].includes(spec.kind ?? 0)) {
    problems.push(invalidArgument("workload.spec.kind", `service, system or batch (WORKLOAD_KIND_SERVICE, _SYSTEM, _BATCH), got ${spec.kind}`));
    return problems;
  }
  const kind = kindOf(spec);
  if (kind !== "service" && spec.replicas !== undefined)
    problems.push(invalidArgument("workload.spec.replicas", `none for a ${kind} workload: ${kind === "system" ? "it runs one copy on every node that qualifies" : "it runs `completions` runs, `parallelism` at a time"}`));
  const batchFields = [
    ["completions", spec.completions],
    ["parallelism", spec.parallelism],
    ["backoff_limit", spec.backoffLimit],
    ["ttl_after_finished", spec.ttlAfterFinished],
  ] as const;
  if (kind !== "batch") {
    for (const [field, value] of batchFields) if (value !== undefined) problems.push(invalidArgument(`workload.spec.${field}`, `none for a ${kind} workload (only kind batch has it)`));
    return problems;
  }
  if (spec.completions !== undefined && (spec.completions < 1 || spec.completions > MAX_REPLICAS))
    problems.push(invalidArgument("workload.spec.completions", `from 1 to ${MAX_REPLICAS}, got ${spec.completions}`));
  if (spec.parallelism !== undefined && (spec.parallelism < 1 || spec.parallelism > MAX_REPLICAS))
    problems.push(invalidArgument("workload.spec.parallelism", `from 1 to ${MAX_REPLICAS}, got ${spec.parallelism}`));
  if (spec.backoffLimit !== undefined && spec.backoffLimit > MAX_BACKOFF_LIMIT)
    problems.push(invalidArgument("workload.spec.backoff_limit", `at most ${MAX_BACKOFF_LIMIT}, got ${spec.backoffLimit}`));
  const ttl = durationProblem(spec.ttlAfterFinished, "workload.spec.ttl_after_finished", MAX_TTL_MS);
  if (ttl) problems.push(ttl);
  const mode = spec.restartPolicy?.mode ?? 0;
  if (mode === 1 || mode === 3)
    problems.push(invalidArgument("workload.spec.restart_policy.mode", "on_failure or unset for a batch workload: a run that exits 0 is done, and failed runs are retried up to backoff_limit (0 for none)"));
  return problems;
}

/** Largest weight of a spread or affinity (Nomad's scale). */
const MAX_WEIGHT = 100;

/**
 * Problems with a placement (spec.placement, or a `tessera sim` workload's, under `field`):
 * labels, weights, targets; a system workload takes only max_per_node.
 */
export function validatePlacement(p: Placement | undefined, kind: WorkloadKindName, field: string): Rejection[] {
  if (p === undefined) return [];
  const problems: Rejection[] = [];
  if (p.maxPerNode > MAX_REPLICAS) problems.push(invalidArgument(`${field}.max_per_node`, `at most ${MAX_REPLICAS}, got ${p.maxPerNode}`));
  if (kind === "system" && (p.spread.length > 0 || p.affinity.length > 0))
    problems.push(invalidArgument(`${field}.${p.spread.length > 0 ? "spread" : "affinity"}`, "none for a system workload: it runs one copy on every node that qualifies (use node_selector)"));
  const labelKey = (key: string, at: string) => {
    if (!LABEL_KEY.test(key)) problems.push(invalidArgument(at, `a node label key (letters, digits, '-', '_', '.', '/'; at most 253 characters), got "${key}"`));
  };
  const spreadLabels = new Set<string>();
  p.spread.forEach((s, i) => {
    const at = `${field}.spread[${i}]`;
    labelKey(s.label, `${at}.label`);
    if (spreadLabels.has(s.label)) problems.push(invalidArgument(`${at}.label`, `a label no other spread names, got "${s.label}" twice`));
    spreadLabels.add(s.label);
    if (s.weight > MAX_WEIGHT) problems.push(invalidArgument(`${at}.weight`, `from 1 to ${MAX_WEIGHT} (0: the default 50), got ${s.weight}`));
    if (![0, 1, 2].includes(s.whenUnsatisfiable)) problems.push(invalidArgument(`${at}.when_unsatisfiable`, `schedule or wait, got ${s.whenUnsatisfiable}`));
    const values = new Set<string>();
    let sum = 0;
    s.targets.forEach((t, j) => {
      if (t.value === "" || t.value.length > 63) problems.push(invalidArgument(`${at}.targets[${j}].value`, "a label value of 1 to 63 characters"));
      if (values.has(t.value)) problems.push(invalidArgument(`${at}.targets[${j}].value`, `a value no other target names, got "${t.value}" twice`));
      values.add(t.value);
      if (t.percent > 100) problems.push(invalidArgument(`${at}.targets[${j}].percent`, `from 0 to 100, got ${t.percent}`));
      sum += t.percent;
    });
    if (sum > 100) problems.push(invalidArgument(`${at}.targets`, `percents adding up to at most 100, got ${sum}`));
  });
  p.affinity.forEach((a, i) => {
    const at = `${field}.affinity[${i}]`;
    labelKey(a.label, `${at}.label`);
    if (a.value.length > 63) problems.push(invalidArgument(`${at}.value`, "a label value of at most 63 characters"));
    if (a.weight < -MAX_WEIGHT || a.weight > MAX_WEIGHT) problems.push(invalidArgument(`${at}.weight`, `from -${MAX_WEIGHT} to ${MAX_WEIGHT} (0: the default 50), got ${a.weight}`));
  });
  return problems;
}

/** Problems with a label map (workload labels, node selectors, node labels), each naming its key. */
export function validateLabels(labels: Record<string, string>, field: string): Rejection[] {
  const problems: Rejection[] = [];
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY.test(key)) problems.push(invalidArgument(`${field}.${key}`, "a label key (letters, digits, '-', '_', '.', '/'; at most 253 characters)"));
    if (value.length > 63) problems.push(invalidArgument(`${field}.${key}`, "a label value of at most 63 characters"));
  }
  return problems;
}

/** The executor kinds an agent may offer. */
export const EXECUTOR_KINDS = ["process", "docker", "simulated"] as const;

/** Refuses an agent's executor list unless it names one or more known kinds. */
export function validateExecutors(executors: string[], field: string): Rejection | undefined {
  const known = executors.length > 0 && executors.every((e) => (EXECUTOR_KINDS as readonly string[]).includes(e));
  return known ? undefined : invalidArgument(field, `one or more of ${EXECUTOR_KINDS.join(", ")}, got ${JSON.stringify(executors)}`);
}

/** Returns the first problem with a workload name, or undefined. */
export function validateName(name: string, field = "name"): Rejection | undefined {
  if (name.length === 0) return invalidArgument(field, "a non-empty name");
  if (name.length > 63) return invalidArgument(field, `at most 63 characters, got ${name.length}`);
  if (!isDnsLabel(name))
    return invalidArgument(field, `a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit), got "${name}"`);
  return undefined;
}

/** Returns every problem with a workload, in field order; empty when it is valid. */
export function validateWorkload(input: WorkloadInput): Rejection[] {
  const problems: Rejection[] = [];
  const nameProblem = validateName(input.name, "workload.name");
  if (nameProblem) problems.push(nameProblem);
  const spec = input.spec;
  if (spec === undefined) {
    problems.push(invalidArgument("workload.spec", "an object with at least `command` or `image`"));
    return problems;
  }
  problems.push(
    ...validateSize(spec, input.labels),
    ...validateRun(spec),
    ...validateKind(spec),
    ...validatePorts(spec),
    ...validateVolumes(spec, spec.resources?.memoryMb || SPEC_DEFAULTS.memoryMb),
    ...validateReferences(spec),
    ...validateWorkingDir(spec),
    ...validateResources(spec),
    ...validateLabels(spec.nodeSelector, "workload.spec.node_selector"),
    ...validatePlacement(spec.placement, kindOf(spec), "workload.spec.placement"),
    ...validateRestartPolicy(spec),
    ...validateUpdate(spec),
    ...validateChecks(spec),
    ...validateDisconnect(spec),
    ...validateSchedule(input.name, spec),
    ...validateSecretUse(spec),
  );
  const grace = durationProblem(spec.stopGracePeriod, "workload.spec.stop_grace_period");
  if (grace) problems.push(grace);
  problems.push(...validateLabels(input.labels, "workload.labels"));
  return problems;
}

/** The spec with its labels, as JSON, within MAX_SPEC_BYTES. */
function validateSize(spec: WorkloadSpec, labels: Record<string, string>): Rejection[] {
  // Responses and agent commands carry the spec with more around it: keep it far below the
  // 4 MiB message limit so no answer about an accepted workload can exceed it.
  const size = JSON.stringify(spec).length + JSON.stringify(labels).length;
  return size > MAX_SPEC_BYTES ? [invalidArgument("workload.spec", `at most ${MAX_SPEC_BYTES / 1024} KiB with its labels, got ${Math.ceil(size / 1024)} KiB`)] : [];
}

/** What runs and how many: a command (absolute, for a process) or an image, the replicas, the environment, text without NUL. */
function validateRun(spec: WorkloadSpec): Rejection[] {
  const problems: Rejection[] = [];
  if (spec.image === "" && spec.command === "")
    problems.push(invalidArgument("workload.spec.command", "a command to run (or set spec.image to run a container)"));
  if (spec.image === "" && spec.command !== "" && !spec.command.startsWith("/"))
    problems.push(invalidArgument("workload.spec.command", `an absolute path for a process workload, got "${spec.command}"`));
  if (spec.replicas !== undefined && spec.replicas > MAX_REPLICAS)
    problems.push(invalidArgument("workload.spec.replicas", `at most ${MAX_REPLICAS}, got ${spec.replicas}`));
  for (const key of Object.keys(spec.env)) {
    if (!ENV_NAME.test(key)) problems.push(invalidArgument(`workload.spec.env.${key}`, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"));
  }
  for (const [field, value] of [
    ["command", spec.command],
    ["working_dir", spec.workingDir],
    ...spec.args.map((a, i) => [`args[${i}]`, a] as const),
    ...Object.entries(spec.env).map(([k, v]) => [`env.${k}`, v] as const),
  ] as const) {
    if (value.includes("\0")) problems.push(invalidArgument(`workload.spec.${field}`, "text without NUL bytes"));
  }
  return problems;
}

function validateWorkingDir(spec: WorkloadSpec): Rejection[] {
  // An expanded working dir is still absolute when it starts with "/".
  return spec.workingDir !== "" && !spec.workingDir.startsWith("/") ? [invalidArgument("workload.spec.working_dir", `an absolute path, got "${spec.workingDir}"`)] : [];
}

function validateResources(spec: WorkloadSpec): Rejection[] {
  const problems: Rejection[] = [];
  if (!spec.resources) return problems;
  if (spec.resources.cpuMillis > MAX_CPU_MILLIS)
    problems.push(invalidArgument("workload.spec.resources.cpu_millis", `at most ${MAX_CPU_MILLIS} (1024 cores), got ${spec.resources.cpuMillis}`));
  if (spec.resources.memoryMb > MAX_MEMORY_MB)
    problems.push(invalidArgument("workload.spec.resources.memory_mb", `at most ${MAX_MEMORY_MB} (16 TiB), got ${spec.resources.memoryMb}`));
  return problems;
}

/** The restart mode, each backoff a duration, and max_backoff at least initial_backoff. */
function validateRestartPolicy(spec: WorkloadSpec): Rejection[] {
  const problems: Rejection[] = [];
  const policy = spec.restartPolicy;
  if (!policy) return problems;
  if (![0, 1, 2, 3].includes(policy.mode))
    problems.push(invalidArgument("workload.spec.restart_policy.mode", `RESTART_MODE_ALWAYS, RESTART_MODE_ON_FAILURE or RESTART_MODE_NEVER, got ${policy.mode}`));
  const initial = durationProblem(policy.initialBackoff, "workload.spec.restart_policy.initial_backoff");
  const max = durationProblem(policy.maxBackoff, "workload.spec.restart_policy.max_backoff");
  if (initial) problems.push(initial);
  if (max) problems.push(max);
  const i = durationMs(policy.initialBackoff);
  const m = durationMs(policy.maxBackoff) ?? SPEC_DEFAULTS.maxBackoffMs;
  if (!initial && !max && i !== undefined && i > m)
    problems.push(invalidArgument("workload.spec.restart_policy.max_backoff", `at least initial_backoff (${i} ms), got ${m} ms${policy.maxBackoff ? "" : " (the default)"}`));
  return problems;
}

function validateUpdate(spec: WorkloadSpec): Rejection[] {
  return spec.update && spec.update.maxSurge === 0 && spec.update.maxUnavailable === 0
    ? [invalidArgument("workload.spec.update", "max_surge or max_unavailable above 0 (with both 0 no copy can ever be replaced)")]
    : [];
}

/** Each check: a name used once, a role, one probe that fits the spec's ports, thresholds and durations. */
function validateChecks(spec: WorkloadSpec): Rejection[] {
  const problems: Rejection[] = [];
  const names = new Set<string>();
  (spec.checks ?? []).forEach((c, i) => {
    const field = `workload.spec.checks[${i}]`;
    if (!isDnsLabel(c.name)) problems.push(invalidArgument(`${field}.name`, `a short name (lower-case letters, digits, '-'), got "${c.name}"`));
    else if (names.has(c.name)) problems.push(invalidArgument(`${field}.name`, `a name not used by another check, got "${c.name}" twice`));
    names.add(c.name);
    if (c.role !== 0 && c.role !== 1 && c.role !== 2) problems.push(invalidArgument(`${field}.role`, `CHECK_ROLE_READINESS or CHECK_ROLE_LIVENESS, got ${c.role}`));
    const p = c.probe;
    if (p === undefined) problems.push(invalidArgument(field, "one of exec, http or tcp"));
    else if (p.$case === "exec" && !p.value.command.startsWith("/")) problems.push(invalidArgument(`${field}.exec.command`, `an absolute path, got "${p.value.command}"`));
    else if ((p.$case === "http" || p.$case === "tcp") && p.value.portName !== "") {
      if (p.value.port !== 0) problems.push(invalidArgument(`${field}.${p.$case}.port_name`, "either port or port_name, not both"));
      else if (!(spec.ports ?? []).some((port) => port.name === p.value.portName)) problems.push(invalidArgument(`${field}.${p.$case}.port_name`, `the name of one of spec.ports, got "${p.value.portName}"`));
    } else if ((p.$case === "http" || p.$case === "tcp") && (p.value.port < 1 || p.value.port > 65535)) problems.push(invalidArgument(`${field}.${p.$case}.port`, `a port from 1 to 65535, got ${p.value.port}`));
    if (p?.$case === "http" && p.value.path !== "" && !p.value.path.startsWith("/")) problems.push(invalidArgument(`${field}.http.path`, `a path starting with /, got "${p.value.path}"`));
    if (c.successThreshold > 100) problems.push(invalidArgument(`${field}.success_threshold`, `at most 100, got ${c.successThreshold}`));
    if (c.failureThreshold > 100) problems.push(invalidArgument(`${field}.failure_threshold`, `at most 100, got ${c.failureThreshold}`));
    for (const [d, name] of [
      [c.interval, "interval"],
      [c.timeout, "timeout"],
      [c.initialDelay, "initial_delay"],
    ] as const) {
      const problem = durationProblem(d, `${field}.${name}`);
      if (problem) problems.push(problem);
    }
  });
  return problems;
}
