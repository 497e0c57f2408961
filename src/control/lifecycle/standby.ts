/**
 * A standby on PostgreSQL: a follower of the leader's commits (follower.ts) and the
 * ControlPlane's read handlers over the state it follows; every change, Logs and Exec refused
 * naming the leader. When it takes the lease, it hands its state over to the term that starts.
 */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { type ControlPlaneMethod, METHOD_ACCESS } from "../../core/access/authz.js";
import type { ClusterState } from "../../core/model/cluster-state.js";
import type { ControlPlaneRow, LeaseTiming } from "../../core/ha/lease.js";
import { DEFAULT_POLICY } from "../../core/reconcile/reconcile.js";
import { cronNext } from "../writer/cron.js";
import { ControlPlaneService } from "../../gen/tessera/v1/control_plane.js";
import { createControlPlaneService } from "../grpc/control-plane-service.js";
import { EndpointsHub } from "../writer/endpoints-hub.js";
import { Follower } from "./follower.js";
import type { Metrics } from "../http/metrics.js";
import type { Tls } from "../security/server-tls.js";
import { Tokens } from "../security/tokens.js";
import { StreamLimits } from "../writer/stream-limits.js";
import { TokenStreams } from "../writer/token-streams.js";
import type { ControlPlaneOptions } from "./options.js";
import type { SharedDatabase } from "../store/store.js";
import { authenticator } from "./term.js";
import { WatchHub } from "../writer/watch-hub.js";
import { type CommandPort, WriterUnavailable } from "../writer/writer.js";

/** What a standby runs on PostgreSQL: a follower of the leader's commits and the ControlPlane's reads over its state. */
export interface Standby {
  follower: Follower;
  /** The ControlPlane's handlers once the follower has a state: reads; changes refused naming the leader; no Logs or Exec. */
  reads(): UntypedServiceImplementation | undefined;
  /** Stops following; the state, caught up and normalized, for the term that starts (undefined: load instead). */
  handOver(): Promise<{ state: ClusterState; seq: number } | undefined>;
  /** Stops following (the control plane stops). */
  close(): Promise<void>;
}

export interface StandbyDeps {
  store: SharedDatabase;
  tls: Tls | undefined;
  metrics: Metrics;
  timing: LeaseTiming;
  controlPlanes: () => Promise<ControlPlaneRow[]>;
  /** What a change is refused with: not the leader, naming it. */
  notLeader: () => string;
}

/** Follows the leader's commits (catching up at least every renewal interval) and serves reads from them. */
export function startStandby(opts: ControlPlaneOptions, deps: StandbyDeps): Standby {
  const { store, metrics } = deps;
  const hub = new WatchHub(store.history);
  const follower: Follower = new Follower({
    store,
    log: opts.log,
    pollMs: deps.timing.renewMs,
    applied: (events) => {
      hub.publish(events);
      endpoints.publish(events);
    },
    loaded: (seq) => endpoints.resync(seq),
    progressed: (seq, behind) => metrics.observeApplied(seq, behind),
  });
  const endpoints = new EndpointsHub(follower.view, () => follower.appliedSeq);
  // Changes are not routed here (below); a submit from a read would be refused all the same.
  const port: CommandPort = { view: follower.view, submit: () => Promise.reject(new WriterUnavailable(deps.notLeader())) };
  const tokens = deps.tls ? new Tokens(port, opts.dataDir) : undefined;
  // Revocations reach a standby through the log it follows; its sweep ends what they disallow.
  const tokenStreams = tokens && new TokenStreams((token) => tokens.kindOf(token) !== undefined, opts.log);
  const handlers = createControlPlaneService({
    writer: port,
    history: store.history,
    hub,
    endpoints,
    // Heartbeats reach the leader only: a plan here takes nodes' health as the leader recorded
    // it, rather than judging as silence the heartbeats it never hears (and marking copies lost).
    policy: { cronNext, ...(opts.policy ?? DEFAULT_POLICY), recordedHealth: true },
    log: opts.log,
    authenticate: authenticator(tokens).authenticate,
    tokens,
    tokenStreams,
    controlPlanes: deps.controlPlanes,
    observeRpc: (method, code, seconds) => metrics.observeRpc(method, code, seconds),
    streams: new StreamLimits(),
  }) as unknown as UntypedServiceImplementation;
  // Only the reads (METHOD_ACCESS), and of those not Logs (no agent streams here: it has no
  // handler). A change is the leader's to judge on its state: refused naming it before anything
  // is looked at, so a standby behind never answers NOT_FOUND for what the leader holds.
  const controlPlane = Object.fromEntries(
    Object.entries(ControlPlaneService)
      .filter(([name, method]) => METHOD_ACCESS[method.path.slice(method.path.lastIndexOf("/") + 1) as ControlPlaneMethod] === "read" && handlers[name] !== undefined)
      .map(([name]) => [name, handlers[name]!]),
  );
  // Streams opened here end when this state stops being served; clients watch again.
  const closeStreams = (reason: string) => {
    tokenStreams?.close();
    hub.close(reason);
    endpoints.close(reason);
  };
  follower.start();
  return {
    follower,
    reads: () => (follower.ready ? controlPlane : undefined),
    async close() {
      await follower.close();
      closeStreams("control plane shutting down");
    },
    async handOver() {
      const followed = await follower.handOver();
      closeStreams("this control plane leads now: watch again");
      // The log's newest number, which Watch and the hubs pair with the state, is where the state is.
      if (followed) store.history.advance(followed.seq);
      return followed;
    },
  };
}
