/** Placement and cost scenarios are read by one reader: the same mistake is refused in the same words in both. */
import { describe, expect, test } from "bun:test";
import { describeRejection, type Rejection } from "../../src/core/model/rejections.js";
import { parseCostScenario } from "../../src/sim/cost-scenario.js";
import { Reader } from "../../src/sim/scenario-reader.js";
import { parseScenario } from "../../src/sim/sim-scenario.js";

const group = { name: "n", count: 2, cpu_millis: 1000, memory_mb: 1024 };
const pool = { ...group, price_per_hour: 0.2, boot: "2m" };
const web = { name: "web", replicas: 1 };
const forecast = { workload: "web", series: [{ at: "0s", replicas: 1 }] };

/** The refusals, without the list they are in (fleet or pools, workloads or demand). */
function refusals(r: { problems: Rejection[] } | { scenario: unknown }): string[] {
  return "problems" in r ? r.problems.map((p) => describeRejection(p).replace(/^\w+/, "")) : [];
}

describe("a fleet's node group and a cost scenario's pool", () => {
  test.each<[string, Record<string, unknown>, string[]]>([
    ["a negative count", { count: -3 }, ["[0].count: expected a positive integer, got -3"]],
    ["fractional cpu", { cpu_millis: 0.5 }, ["[0].cpu_millis: expected a positive integer, got 0.5"]],
    ["no memory", { memory_mb: undefined }, ["[0].memory_mb: expected a positive integer, got nothing"]],
    ["a bad label", { labels: { zone: 1 } }, ["[0].labels.zone: expected a string value, got 1"]],
    ["a bad name", { name: "Big" }, ['[0].name: expected a DNS-1123 label (lower-case letters, digits and \'-\', starting and ending with a letter or digit), got "Big"']],
    ["a name whose last node's name is too long", { name: "a".repeat(62), count: 10 }, ["[0].name: expected at most 63 characters, got 64"]],
  ])("%s: the same refusal", (_, change, expected) => {
    const placement = refusals(parseScenario({ fleet: [{ ...group, ...change }], workloads: [web] }));
    const cost = refusals(parseCostScenario({ pools: [{ ...pool, ...change }], demand: [forecast] }));
    expect(placement).toEqual(expected);
    expect(cost).toEqual(placement);
  });

  test("a name used twice is refused in each, naming what the entries are", () => {
    expect(refusals(parseScenario({ fleet: [group, group], workloads: [web] }))).toEqual(['[1].name: expected a name not used by another group, got "n" twice']);
    expect(refusals(parseCostScenario({ pools: [pool, pool], demand: [forecast] }))).toEqual(['[1].name: expected a name not used by another pool, got "n" twice']);
  });
});

test.each<[string, unknown, string[]]>([
  ["a fractional cpu", { cpu_millis: 0.5 }, ["[0].resources.cpu_millis: expected a positive integer, got 0.5"]],
  ["an unknown resource", { gpus: 1 }, ["[0].resources.gpus: expected one of the fields cpu_millis, memory_mb (unknown field)"]],
  ["not an object", 5, ["[0].resources: expected an object with cpu_millis, memory_mb, got 5"]],
])("a workload's and a forecast's resources: %s, the same refusal", (_, resources, expected) => {
  const placement = refusals(parseScenario({ fleet: [group], workloads: [{ ...web, resources }] }));
  const cost = refusals(parseCostScenario({ pools: [pool], demand: [{ ...forecast, resources }] }));
  expect(placement).toEqual(expected);
  expect(cost).toEqual(placement);
});

describe("Reader", () => {
  test("choice lists the options, all of them comma-separated unless told", () => {
    const r = new Reader(60_000);
    expect(r.choice("b", "x", ["a", "b"])).toBe("b");
    expect(r.choice("c", "x", ["a", "b"])).toBeUndefined();
    expect(r.choice(1, "y", ["a", "b"], "a or b")).toBeUndefined();
    expect(r.problems.map(describeRejection)).toEqual(['x: expected a, b, got "c"', "y: expected a or b, got 1"]);
  });

  test("a duration is bounded by the document's limit unless its field says otherwise", () => {
    const r = new Reader(60_000);
    expect(r.duration("1m", "a")).toBe(60_000);
    expect(r.duration("61s", "b")).toBeUndefined();
    expect(r.duration("2m", "c", 120_000)).toBe(120_000);
    expect(r.problems.map(describeRejection)).toEqual(["b: expected at most 1m, got 61s"]);
  });

  test("money is a non-negative finite number", () => {
    const r = new Reader(60_000);
    expect(r.money(0, "a")).toBe(0);
    expect(r.money(Number.POSITIVE_INFINITY, "b")).toBeUndefined();
    expect(r.money("1", "c")).toBeUndefined();
    expect(r.problems.map(describeRejection)).toEqual(["b: expected a non-negative number, got null", 'c: expected a non-negative number, got "1"']);
  });
});
