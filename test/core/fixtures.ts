/**
 * Builders for core tests: events and specs as plain data, and a fixed clock. Nothing here
 * runs anything; a test folds these events with `replay`/`evolve` and asserts on data.
 */
import type { Command } from "../../src/core/decide/commands.js";
import type { InstanceEvent } from "../../src/core/model/instance-machine.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { evolve } from "../../src/core/events/evolve.js";
import { decide } from "../../src/core/decide/decide.js";
import type { ClusterState } from "../../src/core/model/cluster-state.js";
import { WorkloadKind, type WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { planToEvents, type PlanOutcome } from "../../src/core/reconcile/plan-to-events.js";
import { DEFAULT_POLICY, type Plan, type Policy, plan } from "../../src/core/reconcile/reconcile.js";

/** A fixed instant; every test clock is an offset from it. */
export const T0 = 1_700_000_000_000;

export const CAPACITY = { cpuMillis: 4_000, memoryMb: 8_192 };

/** What an instance reserves when its spec sets no resources (SPEC_DEFAULTS, written out). */
export const DEFAULT_RESOURCES = { cpuMillis: 100, memoryMb: 64 };

/** A valid process spec; `over` replaces fields. */
export function spec(over: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    command: "/bin/sleep",
    args: ["1000"],
    env: {},
    workingDir: "",
    image: "",
    replicas: undefined,
    checks: [],
    ports: [],
    volumes: [],
    secrets: [],
    configs: [],
    secretEnv: {},
    secretVersions: {},
    resources: undefined,
    nodeSelector: {},
    restartPolicy: undefined,
    update: undefined,
    stopGracePeriod: undefined,
    kind: WorkloadKind.WORKLOAD_KIND_UNSPECIFIED,
    schedule: "",
    timeZone: "",
    concurrency: 0,
    ...over,
  };
}

/**
 * A valid process spec whose copies count as available once Ready: without readiness checks a
 * spec soaks 10 s by default (issue 25), which tests about something else would have to wait out.
 */
export function specWithoutSoak(over: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return spec({ update: { minHealthyTime: { seconds: 0, nanos: 0 }, waves: [] }, ...over });
}

export function nodeConnected(
  name: string,
  at: number,
  over: Partial<Extract<ClusterEvent, { type: "NodeConnected" }>> = {},
): ClusterEvent {
  return { type: "NodeConnected", at, name, session: 1, executors: ["process"], version: "test", labels: {}, capacity: CAPACITY, ...over };
}

export function heartbeat(name: string, at: number): ClusterEvent {
  return { type: "NodeHeartbeatReceived", at, name };
}

export function workloadApplied(
  name: string,
  at: number,
  over: { spec?: WorkloadSpec; generation?: number; templateGeneration?: number; labels?: Record<string, string> } = {},
): ClusterEvent {
  const generation = over.generation ?? 1;
  return {
    type: "WorkloadApplied",
    at,
    workload: { name, labels: over.labels ?? {}, spec: over.spec ?? spec(), generation, templateGeneration: over.templateGeneration ?? generation },
  };
}

/** `InstanceCreated` for `<workload>-<index>.<seq>`, generation 1, attempt 0, default resources. */
export function created(id: string, at: number, over: { generation?: number; attempt?: number; reason?: string } = {}): ClusterEvent {
  const name = id.slice(0, id.lastIndexOf("."));
  return {
    type: "InstanceCreated",
    at,
    id,
    workload: name.slice(0, name.lastIndexOf("-")),
    index: Number(name.slice(name.lastIndexOf("-") + 1)),
    generation: over.generation ?? 1,
    attempt: over.attempt ?? 0,
    resources: DEFAULT_RESOURCES,
    readinessChecks: [],
    reason: over.reason ?? "",
  };
}

export function transitioned(id: string, at: number, event: InstanceEvent): ClusterEvent {
  return { type: "InstanceTransitioned", at, id, event };
}

/** A copy created, placed on `node` and Running: its events, generation 1. */
export function runningCopy(id: string, at: number, node = "n1"): ClusterEvent[] {
  return [created(id, at), transitioned(id, at, { type: "place", node }), transitioned(id, at, { type: "provision" }), transitioned(id, at, { type: "run" })];
}

/** An agent's report, as the gateway enqueues it. */
export function report(
  node: string,
  instanceId: string,
  state: Extract<Command, { type: "ReportInstance" }>["state"],
  over: { generation?: number; reason?: string; exitCode?: number } = {},
): Command {
  return { type: "ReportInstance", node, instanceId, generation: over.generation ?? 1, state, reason: over.reason ?? "", exitCode: over.exitCode };
}

/** Applies events in order, in place. */
export function apply(state: ClusterState, events: ClusterEvent[]): ClusterState {
  for (const e of events) evolve(state, e);
  return state;
}

/** Plans at `now`, turns the plan into events and applies them: one pass of the writer's turn. */
export function reconcileOnce(state: ClusterState, now: number, policy: Policy = DEFAULT_POLICY): { plan: Plan; outcome: PlanOutcome } {
  const p = plan(state, now, policy);
  const outcome = planToEvents(state, p);
  apply(state, outcome.events);
  return { plan: p, outcome };
}

/** Agents' reports decided and applied in order; a refusal fails the test. */
export function agentReports(state: ClusterState, now: number, ...commands: ReturnType<typeof report>[]): void {
  for (const c of commands) {
    const d = decide(state, c, now);
    if (d.rejection) throw new Error(`report refused: ${JSON.stringify(d.rejection)}`);
    apply(state, d.events);
  }
}
