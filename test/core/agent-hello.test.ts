/**
 * The hello check (core/access/agent-hello.ts): what an agent's first message must say before
 * its stream is taken, each refusal naming the field and what was expected, and what an accepted
 * hello is recorded as (AgentConnected's fields).
 */
import { expect, test } from "bun:test";
import { checkHello, MAX_LIMITS_TEXT } from "../../src/core/access/agent-hello.js";
import { Hello } from "../../src/gen/tessera/v1/agent_gateway.js";
import { InstanceState } from "../../src/gen/tessera/v1/types.js";
import { NO_PORTS } from "../../src/core/model/ports.js";

const hello = (over: Partial<Hello> = {}): Hello => ({
  ...Hello.fromPartial({ node: "n1", executors: ["process"], version: "1.0", labels: { zone: "a" }, capacity: { cpuMillis: 2_000, memoryMb: 1_024 } }),
  ...over,
});
const held = (state: InstanceState) => ({ instanceId: "web-0.1", generation: 2, state, reason: "", stderrTail: "" });

test("a well-formed hello is recorded as it says, its ports none without an advertised address", () => {
  expect(checkHello(hello({ instances: [held(InstanceState.INSTANCE_STATE_RUNNING)] }))).toEqual({
    hello: {
      node: "n1",
      executors: ["process"],
      version: "1.0",
      labels: { zone: "a" },
      capacity: { cpuMillis: 2_000, memoryMb: 1_024 },
      ports: NO_PORTS,
      volumes: [],
      instances: [{ id: "web-0.1", generation: 2, state: "running", reason: undefined, exitCode: undefined, stderrTail: "" }],
    },
  });
});

test("no capacity is none; limits and host volumes are carried over", () => {
  const checked = checkHello(hello({ capacity: undefined, limits: { enforcedBy: "cgroup v2", notEnforcedReason: "", allowUnenforced: false }, hostVolumes: [{ name: "data", path: "/srv/data", readOnly: true }] }));
  expect(checked).toMatchObject({ hello: { capacity: { cpuMillis: 0, memoryMb: 0 }, limits: { enforcedBy: "cgroup v2", notEnforcedReason: "", allowUnenforced: false }, volumes: [{ name: "data", path: "/srv/data", readOnly: true }] } });
  expect("hello" in checked && "limits" in checked.hello).toBe(true);
  const none = checkHello(hello());
  expect("hello" in none && "limits" in none.hello).toBe(false);
});

test.each([
  ["an invalid node name", hello({ node: "Not_A_Name" }), /hello\.node/],
  ["an invalid label", hello({ labels: { "bad key!": "x" } }), /hello\.labels/],
  ["an unknown executor", hello({ executors: ["vm"] }), /hello\.executors/],
  ["an advertised address that is not IPv4", hello({ advertiseAddress: "localhost" }), /hello\.advertise_address: expected an IPv4 address, got "localhost"/],
  ["a host volume with a relative path", hello({ hostVolumes: [{ name: "data", path: "srv", readOnly: false }] }), /hello\.host_volumes\[0\]\.path/],
  ["limits said at too great a length", hello({ limits: { enforcedBy: "", notEnforcedReason: "x".repeat(MAX_LIMITS_TEXT + 1), allowUnenforced: false } }), /^hello\.limits: expected enforced_by and not_enforced_reason of at most 1024 characters$/],
  ["a held copy in an unknown state", hello({ instances: [held(99 as InstanceState)] }), /^hello\.instances\.state: expected a known InstanceState, got 99$/],
])("refused: %s", (_, h, why) => {
  const checked = checkHello(h);
  expect(checked).toEqual({ refusal: expect.stringMatching(why) });
});
