/** What `drain` says holds a node when its wait runs out: each copy there and what it waits for. */
import { expect, test } from "bun:test";
import { describeDrainHolds, holdingNode } from "../../cli/ctl/drain-holds.js";
import type { GetWorkloadResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { DesiredState, type Instance, InstanceState, WorkloadKind, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";

const copy = (id: string, node: string, state: InstanceState, more: Partial<Instance> = {}): Instance => ({
  id,
  name: id.slice(0, id.lastIndexOf(".")),
  workload: id.slice(0, id.indexOf("-")),
  index: 0,
  generation: 1,
  node,
  desiredState: DesiredState.DESIRED_STATE_RUN,
  observedState: state,
  attempt: 0,
  reason: "",
  stderrTail: "",
  updatedAt: undefined,
  ready: state === InstanceState.INSTANCE_STATE_RUNNING,
  passingChecks: [],
  ports: [],
  address: "",
  ...more,
});
const { PENDING, RUNNING, STOPPING, STOPPED, PROVISIONING } = {
  PENDING: InstanceState.INSTANCE_STATE_PENDING,
  RUNNING: InstanceState.INSTANCE_STATE_RUNNING,
  STOPPING: InstanceState.INSTANCE_STATE_STOPPING,
  STOPPED: InstanceState.INSTANCE_STATE_STOPPED,
  PROVISIONING: InstanceState.INSTANCE_STATE_PROVISIONING,
};
const workload = (name: string, instances: Instance[], kind = WorkloadKind.WORKLOAD_KIND_SERVICE, rollout = "complete"): [string, GetWorkloadResponse] => [
  name,
  { workload: { name, labels: {}, spec: WorkloadSpec.fromPartial({ kind }), generation: 1, status: { rollout } as never, createdAt: undefined }, instances, events: [] },
];

const held = copy("db-0.1", "a", RUNNING);
test.each([
  ["a Pending replacement says why no node fits", [held, copy("db-0.5", "", PENDING, { reason: "no node fits (1 draining, 1 offers no docker executor)" })], "db-0.1 (Running): its replacement db-0.5 is Pending: no node fits (1 draining, 1 offers no docker executor)"],
  ["a replacement starting", [held, copy("db-0.5", "b", PROVISIONING)], "db-0.1 (Running): its replacement db-0.5 on b is Provisioning"],
  ["a replacement not Ready", [held, copy("db-0.5", "b", RUNNING, { ready: false })], "db-0.1 (Running): its replacement db-0.5 on b is Running, not Ready yet (readiness checks not passing)"],
  ["a replacement Ready", [held, copy("db-0.5", "b", RUNNING)], "db-0.1 (Running): its replacement db-0.5 on b is Ready; db-0.1 stops once its workload's disruption budget allows"],
  ["an ended copy elsewhere is no replacement; the rollout says what holds it", [held, copy("db-0.4", "b", STOPPED)], "db-0.1 (Running): no replacement yet (db: canary: held until promoted (0 of 1 canary available))"],
])("%s", (_, instances, line) => {
  const workloads = new Map([workload("db", instances, WorkloadKind.WORKLOAD_KIND_SERVICE, "canary: held until promoted (0 of 1 canary available)")]);
  expect(describeDrainHolds("a", holdingNode(instances.filter((i) => i.node === "a")), workloads)).toEqual([line]);
});

test("a copy being stopped, and a system workload's copy, which goes last", () => {
  const stopping = copy("web-0.2", "a", STOPPING, { desiredState: DesiredState.DESIRED_STATE_STOP, reason: "node a draining: this index runs again elsewhere" });
  const system = copy("hs-0.3", "a", RUNNING);
  const gone = copy("old-0.4", "a", STOPPED, { desiredState: DesiredState.DESIRED_STATE_STOP });
  const workloads = new Map([workload("web", [stopping]), workload("hs", [system], WorkloadKind.WORKLOAD_KIND_SYSTEM)]);
  expect(describeDrainHolds("a", holdingNode([stopping, system, gone]), workloads)).toEqual([
    "web-0.2 (Stopping): stopping (node a draining: this index runs again elsewhere)",
    "hs-0.3 (Running): a system workload's copy, stopped once the node's other copies are gone",
  ]);
});
