/** What `exec` decides: which copy a command runs in, what is refused, what is recorded. */
import { describe, expect, test } from "bun:test";
import { type ClusterState } from "../../src/core/model/cluster-state.js";
import { evolve, replay } from "../../src/core/events/evolve.js";
import { decide } from "../../src/core/decide/decide.js";
import { EXEC_SIGNALS, execTarget, isExecSignal, MAX_EXEC_COMMAND_BYTES, validateExecCommand } from "../../src/core/decide/exec.js";
import { describeRejection, type Rejection } from "../../src/core/model/rejections.js";
import { created, nodeConnected, runningCopy, spec, T0, transitioned, workloadApplied } from "./fixtures.js";

/**
 * web (3 replicas) on n1: web-0.1 Running; web-1.2 failed and web-1.4, its replacement,
 * Running; web-2.3 Running but being stopped. idle (1 replica): idle-0.5 only Scheduled.
 */
function cluster(): ClusterState {
  return replay([
    nodeConnected("n1", T0),
    workloadApplied("web", T0, { spec: spec({ replicas: 3 }) }),
    ...runningCopy("web-0.1", T0),
    ...runningCopy("web-1.2", T0),
    transitioned("web-1.2", T0, { type: "fail", reason: "exited with code 1", exitCode: 1 }),
    ...runningCopy("web-2.3", T0),
    transitioned("web-2.3", T0, { type: "stop", reason: "scaled down" }),
    created("web-1.4", T0, { attempt: 1 }),
    transitioned("web-1.4", T0, { type: "place", node: "n1" }),
    transitioned("web-1.4", T0, { type: "provision" }),
    transitioned("web-1.4", T0, { type: "run" }),
    workloadApplied("idle", T0),
    created("idle-0.5", T0),
    transitioned("idle-0.5", T0, { type: "place", node: "n1" }),
  ]);
}

const idOf = (x: ReturnType<typeof execTarget>) => ("kind" in x ? describeRejection(x as Rejection) : x.id);

describe("execTarget", () => {
  test.each([
    ["web", "", "web-0.1"],
    ["web", "web-1", "web-1.4"],
    ["web", "web-1.4", "web-1.4"],
    ["web", "web-1.2", 'instance "web-1.2" is failed, not running'],
    ["web", "web-2", 'instance "web-2.3" is stopping, not running'],
    ["web", "web-7", 'instance "web-7" not found'],
    ["web", "idle-0.5", 'instance "idle-0.5" not found'],
    ["idle", "", 'workload "idle" has no running copy'],
    ["idle", "idle-0", 'instance "idle-0.5" is scheduled, not running'],
    ["nope", "", 'workload "nope" not found'],
  ])("%s --instance %p → %s", (workload, instance, expected) => {
    expect(idOf(execTarget(cluster(), workload, instance))).toBe(expected);
  });
});

describe("validateExecCommand", () => {
  test.each([
    [[], "start.command: expected a command to run"],
    [[""], "start.command: expected a command to run"],
    [["sh", "a\0b"], "start.command[1]: expected an argument without NUL bytes"],
    [Array.from({ length: 257 }, () => "x"), "start.command: expected at most 256 arguments, got 257"],
    [["x".repeat(MAX_EXEC_COMMAND_BYTES + 1)], `start.command: expected at most ${MAX_EXEC_COMMAND_BYTES} bytes of arguments`],
  ])("%#: refused", (command, message) => {
    const r = validateExecCommand(command as string[], "start.command");
    expect(r).toBeDefined();
    expect(describeRejection(r!)).toStartWith(message);
  });

  test("a program with arguments passes", () => {
    expect(validateExecCommand(["sh", "-c", "echo $HOME"], "start.command")).toBeUndefined();
  });
});

test("only the listed signals may be sent", () => {
  for (const s of EXEC_SIGNALS) expect(isExecSignal(s)).toBe(true);
  for (const s of ["", "SIGSTOP", "KILL", "9", "sigint"]) expect(isExecSignal(s)).toBe(false);
});

describe("RecordExec", () => {
  test("records the copy, its node, the command and who ran it; changes nothing else", () => {
    const state = cluster();
    const d = decide(state, { type: "RecordExec", workload: "web", instance: "web-1", command: ["env"], by: "the holder of token sha256:x" }, T0 + 5);
    expect(d.rejection).toBeUndefined();
    expect(d.effects).toEqual([]);
    expect(d.events).toEqual([{ type: "InstanceExecStarted", at: T0 + 5, id: "web-1.4", node: "n1", command: ["env"], by: "the holder of token sha256:x" }]);
    const before = structuredClone(state);
    evolve(state, d.events[0]!);
    expect(state).toEqual(before);
  });

  test.each([
    [{ workload: "web", instance: "", command: [] }, "InvalidArgument"],
    [{ workload: "nope", instance: "", command: ["env"] }, "UnknownWorkload"],
    [{ workload: "idle", instance: "", command: ["env"] }, "NotRunning"],
    [{ workload: "web", instance: "web-9", command: ["env"] }, "UnknownInstance"],
  ])("%#: refused, no event", (c, kind) => {
    const d = decide(cluster(), { type: "RecordExec", by: "x", ...c }, T0);
    expect(d.rejection?.kind).toBe(kind as Rejection["kind"]);
    expect(d.events).toEqual([]);
  });
});
