/**
 * Placement and limits: a process copy whose spec states resources goes only to a node whose
 * agent enforces them (or whose operator allows it not to), with the reason it waits (#31).
 */
import { describe, expect, test } from "bun:test";
import type { NodeLimits } from "../../src/core/model/cluster-state.js";
import type { Command } from "../../src/core/decide/commands.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import type { Resources } from "../../src/gen/tessera/v1/types.js";
import { spec } from "./fixtures.js";

const ENFORCED: NodeLimits = { enforcedBy: "cgroup v2", notEnforcedReason: "", allowUnenforced: false };
const UNENFORCED: NodeLimits = { enforcedBy: "", notEnforcedReason: "no cgroup v1 memory mount", allowUnenforced: false };
const ALLOWED: NodeLimits = { ...UNENFORCED, allowUnenforced: true };
const node = (name: string, limits?: NodeLimits): FleetNode => ({ name, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {}, ...(limits ? { limits } : {}) });
const apply = (name: string, resources?: Resources, image = ""): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas: 1, image, ...(resources ? { resources } : {}) }) });

/** Where the workload's copy went, or why it waits. */
function placed(nodes: FleetNode[], command: Command): string {
  const fleet = new SimulatedFleet();
  for (const n of nodes) fleet.connect(n);
  fleet.turn();
  fleet.turn([command]);
  const copy = [...fleet.state.instances.values()][0]!;
  return copy.node ?? copy.reason ?? "";
}

describe("limits feasibility", () => {
  test.each([
    ["stated memory: only where enforced", [node("a", UNENFORCED), node("b", ENFORCED)], apply("w", { cpuMillis: 0, memoryMb: 64 }), "b"],
    ["stated cpu: likewise", [node("a", UNENFORCED), node("b", ENFORCED)], apply("w", { cpuMillis: 200, memoryMb: 0 }), "b"],
    ["nowhere enforced: waits with the reason", [node("a", UNENFORCED)], apply("w", { cpuMillis: 0, memoryMb: 64 }), "no node fits (1 limits not enforced)"],
    ["the node's operator allows it", [node("a", ALLOWED)], apply("w", { cpuMillis: 0, memoryMb: 64 }), "a"],
    ["no stated resources: any node (the defaults are reserved, not enforced)", [node("a", UNENFORCED)], apply("w"), "a"],
    ["an agent that says nothing of limits (older, simulated) is taken at its word", [node("a")], apply("w", { cpuMillis: 0, memoryMb: 64 }), "a"],
    ["a container's limits are the engine's: not checked", [node("a", UNENFORCED)], apply("w", { cpuMillis: 0, memoryMb: 64 }, "busybox"), "a"],
  ])("%s", (_, nodes, command, expected) => {
    expect(placed(nodes, command)).toBe(expected);
  });
});
