/** Which ended copies' output an agent keeps: a table of cases (the property is in test/properties/log-retention.test.ts). */
import { expect, test } from "bun:test";
import { type EndedOutput, outputsToDrop } from "../../src/core/output/log-retention.js";

const ended = (instanceId: string, endedAt: number): EndedOutput => ({ instanceId, endedAt });

test.each([
  ["nothing ended", [], { perReplica: 2, perNode: 50 }, []],
  ["within both bounds: all kept", [ended("web-0.1", 1), ended("web-0.2", 2), ended("web-1.3", 3)], { perReplica: 2, perNode: 50 }, []],
  ["a replica's oldest go beyond perReplica", [ended("web-0.1", 1), ended("web-0.2", 2), ended("web-0.4", 4), ended("web-1.3", 3)], { perReplica: 2, perNode: 50 }, ["web-0.1"]],
  ["the node's oldest go beyond perNode, whatever their replica", [ended("web-0.1", 1), ended("api-0.2", 2), ended("web-1.3", 3)], { perReplica: 2, perNode: 2 }, ["web-0.1"]],
  ["ended last counts, not created last", [ended("web-0.9", 1), ended("web-0.2", 5), ended("web-0.3", 6)], { perReplica: 2, perNode: 50 }, ["web-0.9"]],
  ["a tie goes to the later attempt (by sequence, not by spelling)", [ended("web-0.9", 7), ended("web-0.10", 7)], { perReplica: 1, perNode: 50 }, ["web-0.9"]],
  ["workloads with dashes keep their replicas apart", [ended("a-b-0.1", 1), ended("a-b-0.2", 2), ended("a-0.3", 3)], { perReplica: 1, perNode: 50 }, ["a-b-0.1"]],
])("%s", (_, list, retention, drop) => {
  expect(outputsToDrop(list, retention).sort()).toEqual([...drop].sort());
});
