/**
 * The commands into the control plane: requests, agents' messages and the control plane's own
 * (what the single writer decides, one at a time, with `decide`). Types only.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { InstanceState, ReportedState } from "../model/instance-machine.js";
import type { Capacity, NodeLimits, TokenKind } from "../model/cluster-state.js";
import type { ListeningCause } from "../events/cluster-events.js";
import type { NodePorts } from "../model/ports.js";
import type { SecretKeyInfo, SecretKind } from "../model/secrets.js";
import type { HostVolume } from "../model/volumes.js";
import type { EnrollmentProof } from "../access/node-identity.js";

export interface HeldInstance {
  id: string;
  generation: number;
  state: InstanceState;
  /** For a failed instance: why, and its exit code. */
  reason?: string;
  exitCode?: number;
  /** For a failed instance: the end of its stderr, as the agent read it (bounded again here). */
  stderrTail?: string;
}

export type Command =
  /** `force`: apply even a spec whose rollout failed and was reverted. */
  | { type: "ApplyWorkload"; name: string; labels: Record<string, string>; spec: WorkloadSpec | undefined; force?: boolean }
  /** Several applies, all or nothing. */
  | { type: "ApplyWorkloads"; workloads: Array<{ name: string; labels: Record<string, string>; spec: WorkloadSpec | undefined }>; force?: boolean }
  /** Promote a rollout held at its canaries; `by` says who (for history). */
  | { type: "PromoteRollout"; name: string; by: string }
  /** Pause a workload's rollout, or resume it. */
  | { type: "PauseRollout"; name: string; paused: boolean; by: string }
  /** Lift a workload's crash-loop quarantine on `node` (absent: every node); `by` says who. */
  | { type: "LiftQuarantine"; name: string; node?: string; by: string }
  | { type: "DeleteWorkload"; name: string }
  | { type: "RestartWorkload"; name: string }
  /** `ctl run`: a periodic batch starts a run now, whatever its concurrency policy. */
  | { type: "RunWorkload"; name: string }
  /** `rollout undo`: to the spec before the last change, or `to` a revision (its spec, read from the log). */
  | { type: "RollbackWorkload"; name: string; to?: { revision: number; spec: WorkloadSpec } }
  | {
      type: "AgentConnected";
      node: string;
      session: number;
      executors: string[];
      version: string;
      labels: Record<string, string>;
      capacity: Capacity;
      /** Absent in turns recorded before ports (golden logs): such a node offers none. */
      ports?: NodePorts;
      /** Absent in turns recorded before host volumes (golden logs): such a node offers none. */
      volumes?: HostVolume[];
      /** Absent when the agent said nothing of limits (no process executor, an older agent). */
      limits?: NodeLimits;
      instances: HeldInstance[];
    }
  | { type: "AgentDisconnected"; node: string; session: number }
  /** Issue an API token whose SHA-256 (hex) is `hash`; the shell made the secret. */
  | { type: "IssueToken"; kind: TokenKind; hash: string; by: string; expiresAt?: number; uses?: number; keepOthers?: boolean }
  /**
   * Record `serial` (valid until `notAfter`) as `node`'s one certificate, for `proof`.
   * `keyDigest`: SHA-256 (hex) of the public key it certifies (enrollment and renewal; a
   * connection presents a certificate, not a key).
   */
  | { type: "CertifyNode"; node: string; serial: string; notAfter: number; proof: EnrollmentProof; keyDigest?: string }
  /** Let the next join-token enrollment of `node` replace its certificate. */
  | { type: "ApproveNode"; node: string; by: string }
  /** Refuse the node's certificates from now on and close its stream. */
  | { type: "RemoveNode"; node: string; by: string }
  /** Revoke a token by its id (tokenId: the first 12 hex digits of its hash). */
  | { type: "RevokeToken"; id: string; by: string }
  /** Create (`create`) or update a secret or config: its keys and sizes, the shell's digest and opaque payload (secrets.ts). */
  | { type: "PutSecret"; kind: SecretKind; name: string; keys: SecretKeyInfo[]; digest: string; payload: string; create: boolean; by: string }
  | { type: "DeleteSecret"; kind: SecretKind; name: string; by: string }
  /**
   * Every kept version of every secret sealed again under a new cluster key (its rotation):
   * `from` is the payload it replaces, which must still be the version's; refused unless it
   * covers every sealed version, so no value stays under the old key.
   */
  | { type: "ResealSecrets"; versions: Array<{ name: string; version: number; from: string; digest: string; payload: string }>; by: string }
  /** The control plane listens to agents from now on (see ListeningStarted). */
  | { type: "StartListening"; cause: ListeningCause }
  | { type: "Heartbeat"; node: string; session: number }
  /**
   * The heartbeats the agent gateway heard in a short window, one per node (issue 33): one
   * command, not one each, so a large fleet's beats cost the writer a few turns a second.
   */
  | { type: "Heartbeats"; beats: Array<{ node: string; session: number }> }
  /** A readiness check's verdict; a failing one says why in `detail` (what its last probe said). */
  | { type: "ReportCheck"; node: string; instanceId: string; generation: number; check: string; passing: boolean; detail?: string }
  | { type: "CordonNode"; node: string }
  | { type: "UncordonNode"; node: string }
  | { type: "DrainNode"; node: string }
  /** Record that `by` runs `command` in a copy of `workload` (`instance`: a name, an id, or "" for the first running). */
  | { type: "RecordExec"; workload: string; instance: string; command: string[]; by: string }
  | {
      type: "ReportInstance";
      node: string;
      instanceId: string;
      generation: number;
      state: ReportedState;
      reason: string;
      exitCode?: number;
      /** For FAILED: the end of its stderr, as the agent read it (bounded again here). */
      stderrTail?: string;
    };
export type CommandType = Command["type"];

/** The command of one type. */
export type CommandOf<K extends CommandType> = Extract<Command, { type: K }>;
