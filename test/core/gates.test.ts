/** Table tests for every gate: each returns a named hold or nothing. */
import { describe, expect, test } from "bun:test";
import { cordonGate, disruptionGate, quarantineGate, restartBackoffMs, restartGate, surgeGate } from "../../src/core/reconcile/gates.js";
import { emptyState, type Instance, type NodeRecord } from "../../src/core/model/cluster-state.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { type ResolvedSpec, resolveSpec } from "../../src/core/model/spec.js";
import { spec } from "./fixtures.js";

const base = resolveSpec(spec());
const withSpec = (o: Partial<ResolvedSpec>): ResolvedSpec => ({ ...base, ...o });

function failed(attempt: number, exitCode: number | null, at: number): Instance {
  return {
    id: "web-0.1",
    name: "web-0",
    workload: "web",
    index: 0,
    generation: 1,
    node: "n1",
    ports: [],
    desired: "run",
    state: "failed",
    attempt,
    resources: { cpuMillis: 100, memoryMb: 64 },
    readinessChecks: [],
    passing: [],
    reason: `exited with code ${exitCode}`,
    exitCode,
    stderrTail: "",
    failedAt: at,
    runningSince: null,
    readySince: null,
    updatedAt: at,
  };
}

describe("restart backoff", () => {
  test.each([
    [0, 1_000],
    [1, 2_000],
    [2, 4_000],
    [4, 16_000],
    [5, 30_000],
    [40, 30_000],
  ])("attempt %d waits %d ms (1s doubling, capped at 30s)", (attempt, ms) => {
    expect(restartBackoffMs(attempt, base)).toBe(ms);
  });

  test.each([
    ["always", 1, 999, { gate: "restart-backoff", reason: "restart backoff after: exited with code 1", until: 1_000 }],
    ["always", 1, 1_000, undefined],
    ["always", 0, 1_000, undefined],
    ["on_failure", 1, 1_000, undefined],
    ["on_failure", 0, 1_000, { gate: "restart-policy", reason: "completed (exit 0) under restart policy on_failure" }],
    ["on_failure", null, 1_000, undefined],
    ["never", 1, 99_999, { gate: "restart-policy", reason: "restart policy never: exited with code 1" }],
  ] as const)("policy %s, exit %p, at %d ms", (mode, exitCode, now, expected) => {
    expect(restartGate(failed(0, exitCode, 0), withSpec({ restart: mode }), now)).toEqual(expected);
  });
});

describe("crash-loop quarantine", () => {
  const policy = { crashLoopFailures: 3, crashLoopWindowMs: 10_000, quarantineMs: 60_000 };
  const stateWith = (times: number[]) => {
    const s = emptyState();
    s.crashes.set("web", new Map([["n1", times]]));
    return s;
  };
  test.each([
    ["no failures", [], 5_000, undefined],
    ["two failures", [1_000, 2_000], 5_000, undefined],
    ["three within the window", [1_000, 2_000, 3_000], 5_000, { gate: "quarantine", reason: "crash loop: 3 failures within 10s", until: 63_000 }],
    ["three spread beyond the window", [1_000, 6_000, 12_000], 13_000, undefined],
    ["quarantine expired", [1_000, 2_000, 3_000], 63_000, undefined],
  ] as const)("%s", (_, times, now, expected) => {
    expect(quarantineGate(stateWith([...times]), "web", "n1", now, policy)).toEqual(expected);
  });
  test("is per workload and node", () => {
    expect(quarantineGate(stateWith([1, 2, 3]), "api", "n1", 10, policy)).toBeUndefined();
    expect(quarantineGate(stateWith([1, 2, 3]), "web", "n2", 10, policy)).toBeUndefined();
  });
  test("defaults: 5 failures in 60 s quarantine for 5 min", () => {
    expect([DEFAULT_POLICY.crashLoopFailures, DEFAULT_POLICY.crashLoopWindowMs, DEFAULT_POLICY.quarantineMs]).toEqual([5, 60_000, 300_000]);
  });
});

describe("cordon and drain", () => {
  const node = (schedulable: boolean, draining: boolean) => ({ schedulable, draining }) as NodeRecord;
  test.each([
    [true, false, undefined],
    [false, false, { gate: "cordon", reason: "cordoned" }],
    [false, true, { gate: "cordon", reason: "draining" }],
  ] as const)("schedulable=%p draining=%p", (schedulable, draining, expected) => {
    expect(cordonGate(node(schedulable, draining))).toEqual(expected);
  });
});

describe("disruption budget", () => {
  test.each([
    // replicas, maxSurge, non-terminal → allowed?
    [3, 1, 3, true],
    [3, 1, 4, false],
    [3, 0, 3, false],
    [3, 0, 2, true],
    [0, 1, 0, true],
  ])("surge: replicas %d, max_surge %d, %d exist → may add: %p", (replicas, maxSurge, nonTerminal, allowed) => {
    expect(surgeGate(nonTerminal, withSpec({ replicas, maxSurge })) === undefined).toBe(allowed);
  });
  test.each([
    // replicas, maxUnavailable, available → may take one down?
    [3, 1, 3, true],
    [3, 1, 2, false],
    [3, 0, 3, false],
    [3, 2, 2, true],
    [1, 1, 1, true],
  ])("unavailable: replicas %d, max_unavailable %d, %d available → may stop one: %p", (replicas, maxUnavailable, available, allowed) => {
    expect(disruptionGate(available, withSpec({ replicas, maxUnavailable })) === undefined).toBe(allowed);
  });
  test.each([
    // replicas, maxUnavailable, available → may stop a Ready copy not counted among them (still soaking)?
    [1, 1, 0, true],
    [3, 1, 2, true],
    [3, 1, 1, false],
    [3, 0, 3, true],
    [3, 0, 2, false],
  ])("unavailable: replicas %d, max_unavailable %d, %d available → may stop a copy still soaking: %p", (replicas, maxUnavailable, available, allowed) => {
    expect(disruptionGate(available, withSpec({ replicas, maxUnavailable }), false) === undefined).toBe(allowed);
  });
  test("a refusal names its limit", () => {
    expect(surgeGate(4, withSpec({ replicas: 3, maxSurge: 1 }))).toEqual({ gate: "surge", reason: "max_surge: 4 instances exist, limit 4" });
    expect(disruptionGate(2, withSpec({ replicas: 3, maxUnavailable: 1 }))).toEqual({ gate: "disruption", reason: "max_unavailable: 2 available, floor 2" });
  });
});
