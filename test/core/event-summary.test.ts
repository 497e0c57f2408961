/**
 * Every event type, and every instance transition, said in one line: the table covers them
 * all (it fails naming a type that has no row), and each line names the instance or node.
 */
import { describe, expect, test } from "bun:test";
import type { ClusterEvent, ClusterEventType } from "../../src/core/events/cluster-events.js";
import { EVENT_FACTS } from "../../src/core/events/event-facts.js";
import { summarizeEvent } from "../../src/core/events/event-summary.js";
import { INSTANCE_EVENT_TYPES, type InstanceEventType } from "../../src/core/model/instance-machine.js";
import { created, nodeConnected, T0, transitioned, workloadApplied, spec } from "./fixtures.js";

const ID = "web-1.9";

/** One row per event type: the event and the line it reads as. */
const BY_TYPE: Array<[ClusterEventType, ClusterEvent, string]> = [
  ["WorkloadApplied", workloadApplied("web", T0, { spec: spec({ replicas: 3 }), generation: 4, templateGeneration: 2 }), "web applied: generation 4, 3 replicas"],
  ["WorkloadRestartRequested", { type: "WorkloadRestartRequested", at: T0, name: "web", restartSeq: 2 }, "web restart requested: every copy is replaced"],
  ["WorkloadDeleteRequested", { type: "WorkloadDeleteRequested", at: T0, name: "web" }, "web delete requested: its copies are stopped"],
  ["WorkloadRemoved", { type: "WorkloadRemoved", at: T0, name: "web" }, "web removed"],
  ["WorkloadFinished", { type: "WorkloadFinished", at: T0, name: "job", outcome: "failed", reason: "backoff limit 2 reached (3 failed runs): exited with code 3" }, "job failed: backoff limit 2 reached (3 failed runs): exited with code 3"],
  ["RolloutPromoted", { type: "RolloutPromoted", at: T0, name: "web", by: "auto_promote" }, "web rollout promoted by auto_promote: the rest of its copies are replaced"],
  ["RolloutPaused", { type: "RolloutPaused", at: T0, name: "web", paused: true, by: "the holder of token 1a2b" }, "web rollout paused by the holder of token 1a2b"],
  ["QuarantineLifted", { type: "QuarantineLifted", at: T0, name: "web", node: "node-a", by: "the holder of token 1a2b" }, "web crash-loop quarantine lifted on node-a by the holder of token 1a2b"],
  ["RolloutHeld", { type: "RolloutHeld", at: T0, name: "web", gate: "canary", reason: "held until the rollout is promoted (1 canary first)" }, "web rollout held by canary: held until the rollout is promoted (1 canary first)"],
  ["RolloutWaveStarted", { type: "RolloutWaveStarted", at: T0, name: "web", wave: 1, waves: 3 }, "web rollout wave 2 of 3 started: its old copies are replaced"],
  ["RolloutCompleted", { type: "RolloutCompleted", at: T0, name: "web", generation: 3 }, "web rollout of generation 3 complete: every copy available"],
  [
    "RolloutReverted",
    { type: "RolloutReverted", at: T0, name: "web", failedGeneration: 4, generation: 5, reason: "not complete within progress_deadline 60s (web-0.9 not Ready)", to: 3 },
    "web rollout of generation 4 failed (not complete within progress_deadline 60s (web-0.9 not Ready)): back to generation 3's spec as generation 5",
  ],
  [
    "RolloutStalled",
    { type: "RolloutStalled", at: T0, name: "web", generation: 2, reason: "not complete within progress_deadline 6s (web-0.4 not Ready)" },
    "web rollout of generation 2 stalled: not complete within progress_deadline 6s (web-0.4 not Ready)",
  ],
  ["WorkloadExpired", { type: "WorkloadExpired", at: T0, name: "job" }, "job expired: deleted after its ttl_after_finished"],
  ["InstanceCreated", created(ID, T0, { generation: 2, attempt: 3 }), "web-1.9 created (generation 2, attempt 3)"],
  ["InstanceWaiting", { type: "InstanceWaiting", at: T0, id: ID, reason: "no node fits (1 short of cpu)" }, "web-1.9 pending: no node fits (1 short of cpu)"],
  ["InstanceCheckReported", { type: "InstanceCheckReported", at: T0, id: ID, check: "http", passing: false }, "web-1.9 check http failing"],
  [
    "InstanceTransitioned",
    transitioned(ID, T0, { type: "fail", reason: "exited with code 1", exitCode: 1, stderrTail: "Traceback (most recent call last):\nOSError: [Errno 98] Address already in use" }),
    "web-1.9 exited with code 1: OSError: [Errno 98] Address already in use",
  ],
  ["InstanceRemoved", { type: "InstanceRemoved", at: T0, id: ID }, "web-1.9 forgotten"],
  ["NodeConnected", nodeConnected("node-a", T0, { executors: ["process", "docker"], version: "0.9.0" }), "node-a connected: process,docker, cpu 4000m, memory 8192Mi, version 0.9.0"],
  ["NodeDisconnected", { type: "NodeDisconnected", at: T0, name: "node-a" }, "node-a disconnected"],
  ["NodeHealthChanged", { type: "NodeHealthChanged", at: T0, name: "node-a", from: "ready", to: "suspect" }, "node-a suspect (was ready)"],
  ["NodeCordoned", { type: "NodeCordoned", at: T0, name: "node-a" }, "node-a cordoned: nothing new is placed on it"],
  ["NodeUncordoned", { type: "NodeUncordoned", at: T0, name: "node-a" }, "node-a uncordoned"],
  ["NodeDrainStarted", { type: "NodeDrainStarted", at: T0, name: "node-a" }, "node-a draining: its copies move elsewhere"],
  ["ListeningStarted", { type: "ListeningStarted", at: T0, cause: "store-recovered" }, "control plane listening to agents (its store writes again)"],
  [
    "InstanceExecStarted",
    { type: "InstanceExecStarted", at: T0, id: "web-0.3", node: "n1", command: ["sh", "-c", "echo 'hi' $HOME"], by: "the holder of token 1a2b" },
    "web-0.3 on n1: the holder of token 1a2b ran sh -c 'echo '\\''hi'\\'' $HOME'",
  ],
  ["TokenIssued", { type: "TokenIssued", at: T0, kind: "readonly", hash: "ab".repeat(32), by: "the holder of token 1a2b" }, "readonly token sha256:abababababab issued by the holder of token 1a2b"],
  ["TokenRevoked", { type: "TokenRevoked", at: T0, kind: "join", hash: "ab".repeat(32), by: "the holder of token 1a2b" }, "join token sha256:abababababab revoked by the holder of token 1a2b"],
  ["SecretUpdated", { type: "SecretUpdated", at: T0, kind: "secret", name: "db", version: 2, keys: [{ key: "password", size: 12 }], digest: "hmac-sha256:00", by: "the holder of token 1a2b", payload: "v1.sealed" }, "secret db version 2 (password 12 B) by the holder of token 1a2b"],
  ["SecretDeleted", { type: "SecretDeleted", at: T0, kind: "config", name: "app", by: "the holder of token 1a2b" }, "config app deleted by the holder of token 1a2b"],
  ["SecretResealed", { type: "SecretResealed", at: T0, name: "db", versions: [{ version: 1, digest: "hmac-sha256:01", payload: "v2.1.x.y" }, { version: 2, digest: "hmac-sha256:02" }], by: "the holder of token 1a2b" }, "secret db sealed again under a new cluster key (versions 1, 2) by the holder of token 1a2b"],
  ["NodeCertified", { type: "NodeCertified", at: T0, node: "n1", serial: "1f", notAfter: T0, via: "renewal" }, "n1 certified (serial 1f, renewal)"],
  ["NodeApproved", { type: "NodeApproved", at: T0, node: "n1", by: "the holder of token 1a2b" }, "n1 approved by the holder of token 1a2b: the next join-token enrollment may take the name"],
  ["NodeRemoved", { type: "NodeRemoved", at: T0, node: "n1", by: "the holder of token 1a2b" }, "n1 removed by the holder of token 1a2b: its certificates are refused"],
  ["NodeHeartbeatReceived", { type: "NodeHeartbeatReceived", at: T0, name: "node-a" }, "node-a heartbeat"],
  ["PeriodicRunStarted", { type: "PeriodicRunStarted", at: T0, name: "backup", run: "backup-20231114-221320", due: T0, manual: true }, "backup started run backup-20231114-221320 (by hand)"],
  ["PeriodicRunSkipped", { type: "PeriodicRunSkipped", at: T0, name: "backup", due: T0, reason: "run backup-20231114-221300 is still active (concurrency forbid)" }, "backup skipped its run due at 2023-11-14T22:13:20.000Z: run backup-20231114-221300 is still active (concurrency forbid)"],
];

/** One row per instance transition. */
const BY_TRANSITION: Array<[InstanceEventType, ClusterEvent, string]> = [
  ["place", transitioned(ID, T0, { type: "place", node: "node-a", ports: [{ name: "http", hostPort: 20000, protocol: "tcp", containerPort: 0 }, { name: "dns", hostPort: 20001, protocol: "udp", containerPort: 0 }] }), "web-1.9 placed on node-a (ports http=20000,dns=20001/udp)"],
  ["provision", transitioned(ID, T0, { type: "provision" }), "web-1.9 starting"],
  ["run", transitioned(ID, T0, { type: "run" }), "web-1.9 running"],
  ["fail", transitioned(ID, T0, { type: "fail", reason: "killed by SIGKILL" }), "web-1.9 killed by SIGKILL"],
  ["stop", transitioned(ID, T0, { type: "stop", reason: "scaled down to 1" }), "web-1.9 stopping: scaled down to 1"],
  ["finish", transitioned(ID, T0, { type: "finish", exitCode: 143 }), "web-1.9 stopped (exit code 143)"],
  ["lose", transitioned(ID, T0, { type: "lose" }), "web-1.9 lost: its node went offline"],
  ["reclaim", transitioned(ID, T0, { type: "reclaim" }), "web-1.9 taken back: its node returned still running it"],
  ["succeed", transitioned(ID, T0, { type: "succeed" }), "web-1.9 succeeded (exit 0)"],
];

describe("every event type has a summary", () => {
  test("the table has a row for each event type", () => {
    expect(BY_TYPE.map(([type]) => type).sort()).toEqual(Object.keys(EVENT_FACTS).sort() as ClusterEventType[]);
    for (const [type, event] of BY_TYPE) expect(event.type).toBe(type);
  });

  test.each(BY_TYPE)("%s", (_, event, line) => {
    expect(summarizeEvent(event)).toBe(line);
  });
});

describe("every instance transition has a summary", () => {
  test("the table has a row for each transition", () => {
    expect(BY_TRANSITION.map(([type]) => type).sort()).toEqual([...INSTANCE_EVENT_TYPES].sort());
  });

  test.each(BY_TRANSITION)("%s", (_, event, line) => {
    expect(summarizeEvent(event)).toBe(line);
  });
});

test.each<[string, ClusterEvent, string]>([
  ["a new template says copies are replaced", workloadApplied("web", T0, { generation: 2 }), "web applied: generation 2, 1 replica, new template: copies are replaced"],
  ["an undo to a revision says so", { ...workloadApplied("web", T0, { generation: 3 }), undo: { to: 1 } } as ClusterEvent, "web rolled back to revision 1: generation 3, 1 replica, new template: copies are replaced"],
  ["an undo of the last change says so", { ...workloadApplied("web", T0, { generation: 3 }), undo: {} } as ClusterEvent, "web rolled back: generation 3, 1 replica, new template: copies are replaced"],
  [
    "going back to an earlier generation's template says its copies are kept",
    { ...workloadApplied("web", T0, { generation: 4, templateGeneration: 2 }), previousSpec: spec({ args: ["v3"] }) } as ClusterEvent,
    "web applied: generation 4, 1 replica, back to generation 2's template: copies running it are kept, the others replaced",
  ],
  ["a created copy that cannot be placed says why", created(ID, T0, { reason: "no node has 500m cpu free" }), "web-1.9 created (generation 1, attempt 0), pending: no node has 500m cpu free"],
  ["a placement without ports names only the node", transitioned(ID, T0, { type: "place", node: "node-a" }), "web-1.9 placed on node-a"],
  ["a stop seen at a reconnect says so", transitioned(ID, T0, { type: "stop", reason: "lost: the agent no longer holds it", caughtUp: true }), "web-1.9 stopping: lost: the agent no longer holds it (seen at its agent's reconnect)"],
  ["a stop without an exit code", transitioned(ID, T0, { type: "finish" }), "web-1.9 stopped"],
  ["a node with an address names it", nodeConnected("node-a", T0, { ports: { address: "10.0.0.7", range: { from: 20000, to: 20999 }, reserved: [] } }), "node-a connected: process, cpu 4000m, memory 8192Mi, address 10.0.0.7, version test"],
  [
    "a node with host volumes lists them as --host-volume takes them",
    nodeConnected("node-a", T0, { volumes: [{ name: "data", path: "/srv/data", readOnly: false }, { name: "logs", path: "/var/log", readOnly: true }] }),
    "node-a connected: process, cpu 4000m, memory 8192Mi, host volumes data=/srv/data,logs=/var/log:ro, version test",
  ],
  ["a first start", { type: "ListeningStarted", at: T0, cause: "start" }, "control plane listening to agents (started)"],
  ["a failing check says why", { type: "InstanceCheckReported", at: T0, id: ID, check: "http", passing: false, detail: "GET http://10.0.0.1:20000/: connection refused" }, "web-1.9 check http failing: GET http://10.0.0.1:20000/: connection refused"],
  ["a node back after every node went Offline", { type: "ListeningStarted", at: T0, cause: "fleet-returned" }, "control plane listening to agents (a node is heard again after every node went Offline)"],
])("%s", (_, event, line) => {
  expect(summarizeEvent(event)).toBe(line);
});
