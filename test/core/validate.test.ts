/**
 * validateWorkload: every problem of a workload, in field order. An apply is refused with the
 * first, so the order is part of what a user sees; each field group adds its own.
 */
import { expect, test } from "bun:test";
import type { CheckRole, RestartMode } from "../../src/gen/tessera/v1/types.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { spec } from "./fixtures.js";

test("a workload wrong in every field group is refused field by field, in field order", () => {
  const bad = spec({
    command: "sleep",
    replicas: 20_000,
    env: { "1X": "a\0" },
    workingDir: "srv",
    kind: 0,
    completions: 2,
    resources: { cpuMillis: 2_000_000, memoryMb: 64 },
    nodeSelector: { "-bad": "x" },
    placement: { maxPerNode: 20_000, spread: [], affinity: [] },
    restartPolicy: { mode: 7 as RestartMode, initialBackoff: { seconds: 60, nanos: 0 }, maxBackoff: { seconds: 1, nanos: 0 } },
    update: { maxSurge: 0, maxUnavailable: 0, waves: [] },
    checks: [{ name: "Bad", role: 9 as CheckRole, probe: undefined, successThreshold: 101, failureThreshold: 0, interval: undefined, timeout: undefined, initialDelay: undefined }],
    stopGracePeriod: { seconds: -1, nanos: 0 },
  });
  const fields = validateWorkload({ name: "Web", labels: { "-x": "y" }, spec: bad }).map((r) => (r.kind === "InvalidArgument" ? r.field : r.kind));
  expect(fields).toEqual([
    "workload.name",
    "workload.spec.command",
    "workload.spec.replicas",
    "workload.spec.env.1X",
    "workload.spec.env.1X",
    "workload.spec.completions",
    "workload.spec.working_dir",
    "workload.spec.resources.cpu_millis",
    "workload.spec.node_selector.-bad",
    "workload.spec.placement.max_per_node",
    "workload.spec.restart_policy.mode",
    "workload.spec.restart_policy.max_backoff",
    "workload.spec.update",
    "workload.spec.checks[0].name",
    "workload.spec.checks[0].role",
    "workload.spec.checks[0]",
    "workload.spec.checks[0].success_threshold",
    "workload.spec.stop_grace_period",
    "workload.labels.-x",
  ]);
});

test("a workload without a spec is refused for its name and its spec alone", () => {
  const fields = validateWorkload({ name: "", labels: { "-x": "y" }, spec: undefined }).map((r) => (r.kind === "InvalidArgument" ? r.field : r.kind));
  expect(fields).toEqual(["workload.name", "workload.spec"]);
});
