/**
 * The events that change the control plane's state: facts recorded in the log, past tense.
 * Types only. How each one changes a state is evolve.ts's; what each one
 * is (logged, its rows, input or decision) is event-facts.ts's.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { BatchOutcome, Capacity, NodeLimits, RunOf, TokenKind, Workload } from "../model/cluster-state.js";
import type { InstanceEvent } from "../model/instance-machine.js";
import type { NodeHealth } from "../model/node-health.js";
import type { NodePorts } from "../model/ports.js";
import type { ResealedVersion, SecretKeyInfo, SecretKind } from "../model/secrets.js";
import type { HostVolume } from "../model/volumes.js";
import type { EnrollmentProof } from "../access/node-identity.js";

/**
 * Why a control plane (re)started listening to agents; more causes come with leadership.
 * "fleet-returned": it had heard no node for the Offline threshold (it was the one cut off,
 * most likely) and one came back: the others get the grace of a restart to follow.
 */
export type ListeningCause = "start" | "store-recovered" | "fleet-returned";

/** Version of the event schema written to the log. Bump it when an event's shape changes. */
export const EVENT_VERSION = 1;

/** Facts recorded in the event log, past tense. */
export type ClusterEvent =
  | {
      type: "WorkloadApplied";
      at: number;
      workload: Omit<Workload, "deleting" | "createdAt" | "restartSeq" | "templateChangedAt" | "progressSince" | "previousSpec" | "eras" | "failures" | "finished" | "promoted" | "stable" | "quarantined" | "reverted" | "paused" | "wave" | "rolloutHold" | "periodic" | "runOf">;
      previousSpec?: WorkloadSpec | null;
      /** Applied with force: a quarantined spec it names is no longer refused. */
      forced?: true;
      /** A `rollout undo`: `to` the revision asked for; absent for the spec before the last change. */
      undo?: { to?: number };
      /** A periodic batch's run, created with this event (the reconciler's on schedule; `ctl run`'s when manual). */
      run?: RunOf;
    }
  | { type: "WorkloadRestartRequested"; at: number; name: string; restartSeq: number }
  | { type: "WorkloadDeleteRequested"; at: number; name: string }
  | { type: "WorkloadRemoved"; at: number; name: string }
  /** The rollout of the workload's current template goes past its canaries (`by` a person, or auto_promote). */
  | { type: "RolloutPromoted"; at: number; name: string; by: string }
  /** `rollout pause` (paused) or `rollout resume` (not), `by` whom. */
  | { type: "RolloutPaused"; at: number; name: string; paused: boolean; by: string }
  /**
   * A delivery gate (canary, soak, wave, paused) now holds the workload's rollout, with why; gate ""
   * when none does any more. Recorded when the holding gate changes, not every pass.
   */
  | { type: "RolloutHeld"; at: number; name: string; gate: string; reason: string }
  /**
   * `by` lifted the workload's crash-loop quarantine on `node` (every node when absent): its
   * failure history there starts over.
   */
  | { type: "QuarantineLifted"; at: number; name: string; node?: string; by: string }
  /** The rollout moves on to replacing the old copies of wave `wave` (0-based) of `waves`. */
  | { type: "RolloutWaveStarted"; at: number; name: string; wave: number; waves: number }
  /**
   * The rollout of `generation` did not complete within its progress deadline and nothing
   * reverts it (no auto_revert, or no completed spec to go back to); it goes on trying.
   */
  | { type: "RolloutStalled"; at: number; name: string; generation: number; reason: string }
  /** Every copy of the current template is available: this spec is the one auto_revert goes back to. */
  | { type: "RolloutCompleted"; at: number; name: string; generation: number }
  /**
   * The rollout of `failedGeneration` failed (auto_revert): the workload goes back to its last
   * completed spec as a new generation, and the failed spec is quarantined.
   */
  | { type: "RolloutReverted"; at: number; name: string; failedGeneration: number; generation: number; reason: string; to: number }
  /** A batch workload is Complete or Failed (the reconciler's verdict); its copies are done. */
  | ({ type: "WorkloadFinished"; name: string } & BatchOutcome)
  /**
   * A finished batch workload's ttl_after_finished passed, or a periodic batch's run is no
   * longer kept (`reason`: beyond keep_runs, or replaced): it is deleted as if asked to.
   */
  | { type: "WorkloadExpired"; at: number; name: string; reason?: string }
  /**
   * A periodic batch started a run (`run`, a batch workload created by the WorkloadApplied that
   * follows) for its time `due`: on schedule, or `manual` (`ctl run`, which moves no schedule).
   */
  | { type: "PeriodicRunStarted"; at: number; name: string; run: string; due: number; manual?: true }
  /** A periodic batch's time `due` (and any missed before it) passed without a run, and why. */
  | { type: "PeriodicRunSkipped"; at: number; name: string; due: number; reason: string }
  | {
      type: "InstanceCreated";
      at: number;
      id: string;
      workload: string;
      index: number;
      generation: number;
      attempt: number;
      resources: Capacity;
      readinessChecks: string[];
      reason: string;
    }
  /** A Pending instance still waits for a node, now for another reason (the reconciler's, each pass). */
  | { type: "InstanceWaiting"; at: number; id: string; reason: string }
  /** `detail`: a failing check's last error, which becomes the copy's reason (absent in logs from before). */
  | { type: "InstanceCheckReported"; at: number; id: string; check: string; passing: boolean; detail?: string }
  | { type: "InstanceTransitioned"; at: number; id: string; event: InstanceEvent }
  | { type: "InstanceRemoved"; at: number; id: string }
  /** Someone ran a command in a running copy (`tessera ctl exec`); its output is not recorded. */
  | { type: "InstanceExecStarted"; at: number; id: string; node: string; command: string[]; by: string }
  | {
      type: "NodeConnected";
      at: number;
      name: string;
      session: number;
      executors: string[];
      version: string;
      labels: Record<string, string>;
      capacity: Capacity;
      /** Absent in logs from before ports: such a node offers none. */
      ports?: NodePorts;
      /** Absent in logs from before host volumes: such a node offers none. */
      volumes?: HostVolume[];
      /** Absent in logs from before limits, and for agents that said nothing of them. */
      limits?: NodeLimits;
    }
  | { type: "NodeDisconnected"; at: number; name: string }
  | { type: "NodeHealthChanged"; at: number; name: string; from: NodeHealth; to: NodeHealth }
  | { type: "NodeCordoned"; at: number; name: string }
  | { type: "NodeUncordoned"; at: number; name: string }
  | { type: "NodeDrainStarted"; at: number; name: string }
  /**
   * The control plane listens to agents from now on, after not hearing them: it started
   * (with the state it stored), its store could write again after failing, or the first
   * node came back after every node had gone Offline.
   */
  | { type: "ListeningStarted"; at: number; cause: ListeningCause }
  /**
   * An API token was issued; the log keeps its SHA-256, never the secret. An admin or join
   * token revokes the earlier ones of its kind. `by` says who asked (for history).
   */
  | {
      type: "TokenIssued";
      at: number;
      kind: TokenKind;
      hash: string;
      by: string;
      /** When it stops working; absent: never. */
      expiresAt?: number;
      /** Join tokens: how many enrollments it is good for; absent: any number. */
      uses?: number;
      /** A token created beside the others of its kind (a bootstrap join token), not a rotation. */
      keepOthers?: boolean;
    }
  /**
   * `token`: the hash of the join token it used (one of its uses is spent). `renewed`: the
   * serial a renewal presented. Via "connection": the certificate is in use, and is the node's.
   * `keyDigest`: SHA-256 (hex) of the public key certified (absent via "connection", and in
   * logs from before it was recorded).
   */
  | { type: "NodeCertified"; at: number; node: string; serial: string; notAfter: number; via: EnrollmentProof["via"]; token?: string; renewed?: string; keyDigest?: string }
  | { type: "NodeApproved"; at: number; node: string; by: string }
  | { type: "NodeRemoved"; at: number; node: string; by: string }
  | { type: "TokenRevoked"; at: number; hash: string; kind: TokenKind; by: string }
  /**
   * A secret's or config's new version: its keys and sizes and a digest, never a value. The
   * payload (secrets.ts) rides along to the state and the store's rows; the log's record and
   * every reader of the log get the event without it (event-facts.ts, loggedForm).
   */
  | { type: "SecretUpdated"; at: number; kind: SecretKind; name: string; version: number; keys: SecretKeyInfo[]; digest: string; by: string; payload?: string }
  | { type: "SecretDeleted"; at: number; kind: SecretKind; name: string; by: string }
  /**
   * A secret's kept versions sealed again under a new cluster key (its rotation): each one's
   * new digest (an HMAC under the new key) and payload; the log's record has no payloads.
   */
  | { type: "SecretResealed"; at: number; name: string; versions: ResealedVersion[]; by: string }
  /** Volatile: evolves the state but is not written to the log (one per node per second). */
  | { type: "NodeHeartbeatReceived"; at: number; name: string };
export type ClusterEventType = ClusterEvent["type"];

