/**
 * Each event said in one line for people (`describe`, `history`): what happened, to which
 * instance or node, e.g. "web-1.9 exited with code 1: OSError: [Errno 98] Address already in
 * use". PURE.
 *
 * The table is typed over every ClusterEvent type and the instance transitions over every
 * InstanceEvent type, so a new event without a summary does not compile. The wire Event keeps
 * the fields as JSON (`detail`) for tools; this is the text a person reads.
 */
import type { ClusterEvent, ClusterEventType, ListeningCause } from "./cluster-events.js";
import type { InstanceEvent } from "../model/instance-machine.js";
import type { AssignedPort } from "../model/ports.js";
import { resolveSpec } from "../model/spec.js";
import { reasonWithStderr } from "../output/stderr-tail.js";
import { describeHostVolumes } from "../model/volumes.js";
import { tokenId } from "../access/node-identity.js";
import { formatDurationMs } from "../model/duration.js";
import { isoTime } from "../views/iso-time.js";

type EventOf<K extends ClusterEventType> = Extract<ClusterEvent, { type: K }>;

/** `http=20000,dns=20001/udp`: the host ports a placement gave. */
function portList(ports: AssignedPort[]): string {
  return ports.map((p) => `${p.name}=${p.hostPort}${p.protocol === "udp" ? "/udp" : ""}`).join(",");
}

/** What happened to an instance, after its id. */
function transitionSummary(e: InstanceEvent): string {
  switch (e.type) {
    case "place":
      return `placed on ${e.node}${e.ports && e.ports.length > 0 ? ` (ports ${portList(e.ports)})` : ""}`;
    case "provision":
      return "starting";
    case "run":
      return "running";
    case "fail":
      // The agent's reason already says how it ended: "exited with code 1", "killed by SIGKILL".
      return reasonWithStderr(e.reason || "failed", e.stderrTail ?? "");
    case "stop":
      return `stopping: ${e.reason}${e.caughtUp ? " (seen at its agent's reconnect)" : ""}`;
    case "finish":
      return e.exitCode === undefined ? "stopped" : `stopped (exit code ${e.exitCode})`;
    case "lose":
      return "lost: its node went offline";
    case "reclaim":
      return "taken back: its node returned still running it";
    case "succeed":
      return "succeeded (exit 0)";
  }
}

/** An argument as a POSIX shell would need it written: bare when that is safe, else in single quotes. */
function shellWord(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

const LISTENING_CAUSES: { [C in ListeningCause]: string } = {
  start: "started",
  "store-recovered": "its store writes again",
  "fleet-returned": "a node is heard again after every node went Offline",
};

const SUMMARIES: { [K in ClusterEventType]: (e: EventOf<K>) => string } = {
  WorkloadApplied({ workload: w, previousSpec, undo }) {
    // A change of what runs back to an earlier generation's template keeps that generation's copies.
    const back = previousSpec !== undefined && w.templateGeneration < w.generation ? `, back to generation ${w.templateGeneration}'s template: copies running it are kept, the others replaced` : "";
    const rollout = w.generation > 1 && w.templateGeneration === w.generation ? ", new template: copies are replaced" : back;
    const replicas = resolveSpec(w.spec).replicas;
    const how = undo === undefined ? "applied" : `rolled back${undo.to === undefined ? "" : ` to revision ${undo.to}`}`;
    return `${w.name} ${how}: generation ${w.generation}, ${replicas} ${replicas === 1 ? "replica" : "replicas"}${rollout}`;
  },
  WorkloadRestartRequested: (e) => `${e.name} restart requested: every copy is replaced`,
  WorkloadDeleteRequested: (e) => `${e.name} delete requested: its copies are stopped`,
  WorkloadRemoved: (e) => `${e.name} removed`,
  RolloutPromoted: (e) => `${e.name} rollout promoted by ${e.by}: the rest of its copies are replaced`,
  RolloutPaused: (e) => `${e.name} rollout ${e.paused ? "paused" : "resumed"} by ${e.by}`,
  QuarantineLifted: (e) => `${e.name} crash-loop quarantine lifted ${e.node === undefined ? "on every node" : `on ${e.node}`} by ${e.by}`,
  RolloutHeld: (e) => (e.gate === "" ? `${e.name} rollout goes on` : `${e.name} rollout held by ${e.gate}: ${e.reason}`),
  RolloutWaveStarted: (e) => `${e.name} rollout wave ${e.wave + 1} of ${e.waves} started: its old copies are replaced`,
  RolloutStalled: (e) => `${e.name} rollout of generation ${e.generation} stalled: ${e.reason}`,
  RolloutCompleted: (e) => `${e.name} rollout of generation ${e.generation} complete: every copy available`,
  RolloutReverted: (e) => `${e.name} rollout of generation ${e.failedGeneration} failed (${e.reason}): back to generation ${e.to}'s spec as generation ${e.generation}`,
  WorkloadFinished: (e) => `${e.name} ${e.outcome === "complete" ? "complete" : "failed"}: ${e.reason}`,
  WorkloadExpired: (e) => `${e.name} expired: ${e.reason ?? "deleted after its ttl_after_finished"}`,
  PeriodicRunStarted: (e) => `${e.name} started run ${e.run}${e.manual ? " (by hand)" : ""}`,
  PeriodicRunSkipped: (e) => `${e.name} skipped its run due at ${isoTime(e.due)}: ${e.reason}`,
  InstanceCreated(e) {
    const made = `${e.id} created (generation ${e.generation}, attempt ${e.attempt})`;
    return e.reason === "" ? made : `${made}, pending: ${e.reason}`;
  },
  InstanceWaiting: (e) => `${e.id} pending: ${e.reason}`,
  InstanceCheckReported: (e) => `${e.id} check ${e.check} ${e.passing ? "passing" : "failing"}${e.detail ? `: ${e.detail}` : ""}`,
  InstanceTransitioned: (e) => `${e.id} ${transitionSummary(e.event)}`,
  InstanceRemoved: (e) => `${e.id} forgotten`,
  InstanceExecStarted: (e) => `${e.id} on ${e.node}: ${e.by} ran ${e.command.map(shellWord).join(" ")}`,
  NodeConnected: (e) =>
    `${e.name} connected: ${e.executors.join(",")}, cpu ${e.capacity.cpuMillis}m, memory ${e.capacity.memoryMb}Mi${e.ports?.address ? `, address ${e.ports.address}` : ""}${e.volumes?.length ? `, host volumes ${describeHostVolumes(e.volumes)}` : ""}, version ${e.version}`,
  NodeDisconnected: (e) => `${e.name} disconnected`,
  NodeHealthChanged: (e) => `${e.name} ${e.to} (was ${e.from})`,
  NodeCordoned: (e) => `${e.name} cordoned: nothing new is placed on it`,
  NodeUncordoned: (e) => `${e.name} uncordoned`,
  NodeDrainStarted: (e) => `${e.name} draining: its copies move elsewhere`,
  ListeningStarted: (e) => `control plane listening to agents (${LISTENING_CAUSES[e.cause]})`,
  TokenIssued: (e) => `${e.kind} token ${tokenId(e.hash)} issued by ${e.by}${e.expiresAt === undefined ? "" : `, expires in ${formatDurationMs(e.expiresAt - e.at)}`}${e.uses === undefined ? "" : `, ${e.uses} uses`}`,
  SecretUpdated: (e) => `${e.kind} ${e.name} version ${e.version} (${e.keys.map((k) => `${k.key} ${k.size} B`).join(", ")}) by ${e.by}`,
  SecretDeleted: (e) => `${e.kind} ${e.name} deleted by ${e.by}`,
  SecretResealed: (e) => `secret ${e.name} sealed again under a new cluster key (versions ${e.versions.map((v) => v.version).join(", ")}) by ${e.by}`,
  TokenRevoked: (e) => `${e.kind} token ${tokenId(e.hash)} revoked by ${e.by}`,
  NodeCertified: (e) => `${e.node} certified (serial ${e.serial}, ${e.via === "join" ? `join token ${tokenId(e.token ?? "")}` : e.via === "renewal" ? "renewal" : "adopted from its first connection"})`,
  NodeApproved: (e) => `${e.node} approved by ${e.by}: the next join-token enrollment may take the name`,
  NodeRemoved: (e) => `${e.node} removed by ${e.by}: its certificates are refused`,
  NodeHeartbeatReceived: (e) => `${e.name} heartbeat`,
};

/** The event in one line. */
export function summarizeEvent(e: ClusterEvent): string {
  return (SUMMARIES[e.type] as (e: ClusterEvent) => string)(e);
}
