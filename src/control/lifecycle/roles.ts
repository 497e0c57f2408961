/**
 * What this control plane is doing, one role at a time, and the steps between roles: it starts
 * (no term or standby yet, or between them), leads (a term: term.ts), stands by following the
 * leader on a database control planes share (standby.ts), and stops. server.ts's gRPC services
 * and /readyz read the role; the leadership loop (or, on SQLite, server.ts once) moves it.
 */
import type { ClusterView } from "../../core/model/cluster-state.js";
import type { ControlPlaneRow, LeaseTiming } from "../../core/ha/lease.js";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { HttpServer } from "../http/http-server.js";
import type { Metrics } from "../http/metrics.js";
import type { Tls } from "../security/server-tls.js";
import type { Store } from "../store/store.js";
import type { UsageBoard } from "../writer/usage-board.js";
import type { LeadershipLoop } from "./leadership.js";
import type { ControlPlaneOptions } from "./options.js";
import { type Standby, startStandby } from "./standby.js";
import { startTerm, type Term } from "./term.js";

/**
 * `leading.suspended`: the term stepped down while the database is out of reach and answers reads
 * only, its agents sent elsewhere, until the database answers again.
 */
export type Role =
  | { kind: "starting" }
  | { kind: "standby"; standby: Standby }
  | { kind: "leading"; term: Term; suspended: boolean }
  | { kind: "stopped" };

export interface RolesDeps {
  opts: ControlPlaneOptions;
  store: Store;
  tls: Tls | undefined;
  metrics: Metrics;
  timing: LeaseTiming;
  controlPlanes: () => Promise<ControlPlaneRow[]>;
  /** The lease loop, on a database control planes share; none on SQLite (or before it is made). */
  leadership: () => LeadershipLoop | undefined;
  /** The process's HTTP listener, which serves the page of the term leading. */
  http: () => HttpServer | undefined;
  /** What grpc.health.v1 says of every service. */
  setHealth: (status: "SERVING" | "NOT_SERVING") => void;
}

export class Roles {
  private role: Role = { kind: "starting" };
  /** stop() has begun: no standby starts again, and /readyz says so, whatever the role still ending. */
  private stopping = false;

  constructor(private readonly deps: RolesDeps) {}

  /** Why a call no role answers is refused: not the leader (naming it), or shutting down. */
  readonly refusal = (): string => this.deps.leadership()?.notLeader() ?? "control plane is shutting down";

  /** The ControlPlane's handlers: the term's, or a standby's reads once it has a state. */
  controlPlane(): UntypedServiceImplementation | undefined {
    return this.role.kind === "leading" ? this.role.term.controlPlane : this.role.kind === "standby" ? this.role.standby.reads() : undefined;
  }

  /** The agents' streams: a term's, unless suspended (agents go to another control plane). */
  agentGateway(): UntypedServiceImplementation | undefined {
    return this.role.kind === "leading" && !this.role.suspended ? this.role.term.agentGateway : undefined;
  }

  enrollment(): UntypedServiceImplementation | undefined {
    return this.role.kind === "leading" ? this.role.term.enrollment : undefined;
  }

  /** Why /readyz says not ready, or undefined. */
  notReady(): string | undefined {
    if (this.stopping) return "shutting down";
    if (this.role.kind === "leading") return this.role.term.unavailable();
    return this.deps.leadership() ? this.refusal() : "starting";
  }

  /** The state /metrics reads, and the copies' usage (a term's agents send it). */
  observed(): { view: ClusterView; usage?: UsageBoard } | undefined {
    if (this.role.kind === "leading") return { view: this.role.term.view, usage: this.role.term.web.gateway?.usage };
    return this.role.kind === "standby" ? { view: this.role.standby.follower.view } : undefined;
  }

  /** How far the state served goes: a term's, what it committed; a standby's, what it followed. */
  appliedSeq(): number {
    if (this.role.kind === "leading") return this.deps.store.history.newestSeq();
    return this.role.kind === "standby" ? this.role.standby.follower.appliedSeq : 0;
  }

  /** Starts a term in `epoch` as `leader` (this control plane's id): after the one kept for reads (it ends first), or from the standby's state. */
  async lead(epoch = 0, leader = ""): Promise<void> {
    const { opts, metrics } = this.deps;
    const started = performance.now();
    const was = this.role;
    this.role = { kind: "starting" };
    if (was.kind === "leading") {
      // A term kept for reads while the database was down ends first: the new one loads what the database holds.
      this.deps.http()?.serveWeb(undefined);
      await was.term.stop();
    }
    // A standby's state, caught up: the lease is taken, so no earlier epoch commits again.
    const followed = was.kind === "standby" ? await was.standby.handOver() : undefined;
    metrics.observeTerm(epoch);
    const { store, tls, controlPlanes } = this.deps;
    const term = await startTerm(opts, { store, tls, metrics, controlPlanes, writeFailed: () => this.deps.leadership()?.verify(), term: { epoch, leader } }, followed?.state);
    this.role = { kind: "leading", term, suspended: false };
    const ms = Math.round(performance.now() - started);
    if (followed) opts.log.info("leading from memory", { epoch, seq: followed.seq, ms });
    else if (this.deps.leadership()) opts.log.info("leading from a load of the database", { epoch, ms });
    this.deps.http()?.serveWeb(term.web);
    this.deps.setHealth("SERVING");
    opts.onLead?.();
  }

  /** Stands by on a database control planes share, unless stopping or already standing by. */
  follow(): void {
    const shared = this.deps.store.supports.lease;
    if (this.stopping || this.role.kind === "standby" || !shared) return;
    const { opts, tls, metrics, timing, controlPlanes } = this.deps;
    metrics.observeStandby();
    this.role = { kind: "standby", standby: startStandby(opts, { store: shared, tls, metrics, timing, controlPlanes, notLeader: this.refusal }) };
  }

  /** Ends the term (if any), then stands by. */
  async stepDown(): Promise<void> {
    const was = this.role;
    if (was.kind === "leading") this.role = { kind: "starting" };
    this.deps.http()?.serveWeb(undefined);
    this.deps.setHealth("NOT_SERVING");
    if (was.kind === "leading") await was.term.stop();
    this.follow();
  }

  /**
   * The term keeps answering reads; its agents are sent away (refused naming why, as a standby
   * refuses them): one given several control planes moves to the next, which names the leader
   * once one leads.
   */
  async suspend(): Promise<void> {
    this.deps.setHealth("NOT_SERVING");
    if (this.role.kind !== "leading") return;
    this.role.suspended = true;
    this.role.term.releaseAgents(this.refusal());
  }

  /** From now on no standby starts; what is starting or ending may still finish. */
  beginStopping(): void {
    this.stopping = true;
  }

  /** Ends whatever role is left (a standby, or a term that never stepped down): stopped. */
  async close(): Promise<void> {
    const was = this.role;
    if (was.kind === "standby") await was.standby.close();
    if (was.kind === "leading") await was.term.stop();
    this.role = { kind: "stopped" };
  }
}
