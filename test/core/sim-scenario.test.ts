/** `tessera sim` scenarios: what is read, and every refusal naming its field path. */
import { describe, expect, test } from "bun:test";
import { describeRejection } from "../../src/core/model/rejections.js";
import { MAX_SIM_NODES, parseScenario, SETTLE_AFTER_MS } from "../../src/sim/sim-scenario.js";

const group = { name: "n", count: 2, cpu_millis: 1000, memory_mb: 1024 };
const web = { name: "web", replicas: 2 };

/** The refusals for a document, as the CLI prints them. */
function problems(doc: unknown): string[] {
  const r = parseScenario(doc);
  return "problems" in r ? r.problems.map(describeRejection) : [];
}

describe("parseScenario", () => {
  test("reads groups, expanded workloads, defaults, and failures sorted by time", () => {
    const r = parseScenario({
      fleet: [{ ...group, labels: { zone: "a" } }],
      workloads: [{ name: "job", count: 2, node_selector: { zone: "a" } }],
      failures: [
        { at: "1m", restore: { nodes: ["n-1"] } },
        { at: "500ms", kill: { group: "n", count: 1 } },
        { at: "2s", crash: "job-1-0" },
      ],
    });
    expect(r).toEqual({
      scenario: {
        fleet: [{ name: "n", count: 2, capacity: { cpuMillis: 1000, memoryMb: 1024 }, labels: { zone: "a" } }],
        workloads: [{ name: "job", count: 2, kind: "service", replicas: 1, parallelism: 1, resources: { cpuMillis: 100, memoryMb: 64 }, nodeSelector: { zone: "a" } }],
        failures: [
          { at: 500, kill: { group: "n", count: 1 } },
          { at: 2_000, crash: "job-1-0" },
          { at: 60_000, restore: { nodes: ["n-1"] } },
        ],
        durationMs: 60_000 + SETTLE_AFTER_MS,
      },
    });
  });

  test.each<[string, unknown, string[]]>([
    ["not an object", [1], ["scenario: expected an object with fleet, workloads, failures, duration, got a list"]],
    ["missing parts", {}, ["fleet: expected a list of node groups (name, count, cpu_millis, memory_mb, labels), got nothing", "workloads: expected a list of workloads (name, count, kind, replicas, completions, parallelism, resources, node_selector, update, placement, schedule, time_zone, concurrency, starting_deadline, keep_runs), got nothing"]],
    ["a negative count", { fleet: [{ ...group, count: -3 }], workloads: [web] }, ["fleet[0].count: expected a positive integer, got -3"]],
    ["an unknown field", { fleet: [{ ...group, cpuMillis: 5 }], workloads: [web] }, ["fleet[0].cpuMillis: expected one of the fields name, count, cpu_millis, memory_mb, labels (unknown field)"]],
    ["a bad label", { fleet: [{ ...group, labels: { zone: 1 } }], workloads: [web] }, ["fleet[0].labels.zone: expected a string value, got 1"]],
    ["a bad name", { fleet: [{ ...group, name: "Big" }], workloads: [web] }, ['fleet[0].name: expected a DNS-1123 label (lower-case letters, digits and \'-\', starting and ending with a letter or digit), got "Big"']],
    ["too many nodes", { fleet: [{ ...group, count: MAX_SIM_NODES }, { ...group, name: "m" }], workloads: [web] }, [`fleet: expected at most ${MAX_SIM_NODES} nodes in all, got ${MAX_SIM_NODES + 2}`]],
    ["a name used twice", { fleet: [group], workloads: [{ name: "web", count: 2 }, { name: "web-1" }] }, ['workloads[1].name: expected names not used by another workload, got "web-1" twice']],
    ["fractional resources", { fleet: [group], workloads: [{ name: "web", resources: { cpu_millis: 0.5 } }] }, ["workloads[0].resources.cpu_millis: expected a positive integer, got 0.5"]],
    ["negative replicas", { fleet: [group], workloads: [{ name: "web", replicas: -1 }] }, ["workloads[0].replicas: expected a non-negative integer, got -1"]],
    ["an unknown kind", { fleet: [group], workloads: [{ name: "web", kind: "daemon" }] }, ['workloads[0].kind: expected service, system or batch, got "daemon"']],
    ["replicas of a system workload", { fleet: [group], workloads: [{ name: "logs", kind: "system", replicas: 2 }] }, ["workloads[0].replicas: expected none for a system workload"]],
    ["completions of a service", { fleet: [group], workloads: [{ name: "web", completions: 2 }] }, ["workloads[0].completions: expected none for a service workload"]],
    ["a rollout of an unknown workload", { fleet: [group], workloads: [web], failures: [{ at: "5s", rollout: "db" }] }, ['failures[0].rollout: expected a service workload of the scenario (like web), got "db"']],
    ["fails without a rollout", { fleet: [group], workloads: [web], failures: [{ at: "5s", crash: "web-0", fails: true }] }, ["failures[0].fails: expected only with rollout"]],
    ["a bad update", { fleet: [group], workloads: [{ name: "web", update: { canary: -1, auto_revert: "yes" } }] }, ["workloads[0].update.canary: expected a non-negative integer, got -1", "workloads[0].update.auto_revert: expected true or false, got \"yes\""]],
    ["a time without unit", { fleet: [group], workloads: [web], failures: [{ at: 5, kill: { group: "n" } }] }, ["failures[0].at: expected a duration like 500ms, 40s or 1m30s (a bare number is seconds), got 5"]],
    ["no action", { fleet: [group], workloads: [web], failures: [{ at: "5s" }] }, ["failures[0]: expected exactly one of kill, restore, crash or rollout, got none"]],
    ["an unknown group", { fleet: [group], workloads: [web], failures: [{ at: "5s", kill: { group: "x" } }] }, ['failures[0].kill.group: expected a group of the fleet (n), got "x"']],
    ["a count above the group's", { fleet: [group], workloads: [web], failures: [{ at: "5s", kill: { group: "n", count: 3 } }] }, ["failures[0].kill.count: expected at most 2, got 3"]],
    ["an unknown node", { fleet: [group], workloads: [web], failures: [{ at: "5s", restore: { nodes: ["n-0", "n-2"] } }] }, ['failures[0].restore.nodes[1]: expected a node of the fleet, got "n-2"']],
    ["nodes and group", { fleet: [group], workloads: [web], failures: [{ at: "5s", kill: { nodes: ["n-0"], group: "n" } }] }, ["failures[0].kill: expected either nodes (a list of node names) or group (with an optional count)"]],
    ["an unknown replica", { fleet: [group], workloads: [web], failures: [{ at: "5s", crash: "web-2" }] }, ['failures[0].crash: expected a replica of a workload (like web-0), got "web-2"']],
    ["a duration before the last failure", { fleet: [group], workloads: [web], failures: [{ at: "2m", crash: "web-0" }], duration: "1m" }, ["duration: expected at least the last failure's time (120s), got 1m"]],
    ["a duration too long", { fleet: [group], workloads: [web], duration: "61m" }, ["duration: expected at most 1h, got 61m"]],
  ])("refuses %s", (_, doc, expected) => {
    expect(problems(doc)).toEqual(expected);
  });
});
