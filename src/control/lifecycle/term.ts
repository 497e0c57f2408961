/**
 * A term of leading: the writer started from the store (or from the state a standby followed),
 * its hubs, the agent gateway, the ControlPlane, AgentGateway and Enrollment handlers, and what
 * the web page serves from. On SQLite one term lasts the process; on PostgreSQL there is one per
 * lease taken (server.ts starts and stops them).
 */
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Role } from "../../core/access/authz.js";
import type { ClusterState, ClusterView } from "../../core/model/cluster-state.js";
import type { ControlPlaneRow } from "../../core/ha/lease.js";
import { DEFAULT_POLICY } from "../../core/reconcile/reconcile.js";
import { cronNext } from "../writer/cron.js";
import { AgentGateway } from "../grpc/agent-gateway.js";
import type { LeaderTerm } from "../grpc/agent-commands.js";
import { createControlPlaneService, type ServiceDeps } from "../grpc/control-plane-service.js";
import { clusterSealer } from "../security/cluster-keys.js";
import { deliveredSets, generationsInUse } from "../security/secret-seal.js";
import { secretNeeds } from "../../core/model/secret-use.js";
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { EndpointsHub } from "../writer/endpoints-hub.js";
import { FleetHub } from "../writer/fleet-hub.js";
import type { Metrics } from "../http/metrics.js";
import type { Authenticate } from "../grpc/rpc.js";
import { bearer, createEnrollmentService } from "../security/enrollment.js";
import type { Tls } from "../security/server-tls.js";
import { Tokens } from "../security/tokens.js";
import { StreamLimits } from "../writer/stream-limits.js";
import { TokenStreams } from "../writer/token-streams.js";
import type { ControlPlaneOptions } from "./options.js";
import type { Store } from "../store/store.js";
import { scheduleSnapshots, type TakeSnapshot } from "./scheduled-snapshots.js";
import { WatchHub } from "../writer/watch-hub.js";
import type { WebApiDeps } from "../http/web-api.js";
import { Writer } from "../writer/writer.js";

/** What one term of leading runs: the writer, its hubs, the agent gateway, the services' handlers, what the web page serves from. */
export interface Term {
  controlPlane: UntypedServiceImplementation;
  agentGateway: UntypedServiceImplementation;
  enrollment?: UntypedServiceImplementation;
  /** The page's API's writer, hubs, gateway and tokens (the HTTP listener is the process's). */
  web: Omit<WebApiDeps, "secure">;
  /** The writer's state, for /metrics. */
  view: ClusterView;
  /** Why changes are refused now (the store cannot write), or undefined: /readyz. */
  unavailable(): string | undefined;
  /** Ends every agent's stream with UNAVAILABLE saying why: the term stepped down, and keeps answering reads only. */
  releaseAgents(why: string): void;
  stop(): Promise<void>;
}

export interface TermDeps {
  store: Store;
  tls: Tls | undefined;
  metrics: Metrics;
  controlPlanes: () => Promise<ControlPlaneRow[]>;
  /** A write failed: on a shared database, maybe because another control plane took the lease. */
  writeFailed?: () => void;
  /** The lease's epoch and this control plane's id, stamped on what its agents are told; unset on SQLite. */
  term?: LeaderTerm;
}

/** Who a call is: every role with security off, else the kind of the token it carries (tokens read from `tokens`' state). */
export function authenticator(tokens: Tokens | undefined): { roleOf: (token: string | undefined) => Role | undefined; authenticate: Authenticate } {
  const roleOf = (token: string | undefined): Role | undefined => (!tokens ? "admin" : token === undefined ? undefined : tokens.kindOf(token));
  return { roleOf, authenticate: (metadata) => roleOf(bearer(metadata)) };
}

/** The ControlPlane's handlers over a term's writer, hubs and agents. */
function termControlPlane(opts: ControlPlaneOptions, deps: TermDeps, parts: Omit<ServiceDeps, "history" | "log" | "controlPlanes" | "snapshot" | "observeRpc">, take: TakeSnapshot | undefined): UntypedServiceImplementation {
  const { store, metrics } = deps;
  return createControlPlaneService({
    ...parts,
    history: store.history,
    log: opts.log,
    controlPlanes: deps.controlPlanes,
    snapshot: take && (() => take(Date.now())),
    observeRpc: (method, code, seconds) => metrics.observeRpc(method, code, seconds),
  }) as unknown as UntypedServiceImplementation;
}

/**
 * Starts the writer from what the store holds, or from the state this control plane followed
 * as a standby (`followed`), and what serves through it. On SQLite the one term lasts the process.
 */
export async function startTerm(opts: ControlPlaneOptions, deps: TermDeps, followed?: ClusterState): Promise<Term> {
  const { store, tls, metrics } = deps;
  // The cron parser is the shell's (the core imports no package): every writer is handed it.
  const policy = { cronNext, ...(opts.policy ?? DEFAULT_POLICY) };
  const hub = new WatchHub(store.history);
  // Made once tokens are (below); a turn that changed tokens ends the streams they no longer allow.
  let tokenStreams: TokenStreams | undefined;
  const writer = await Writer.open({
    store,
    policy,
    tickMs: opts.tickMs ?? 2_000,
    log: opts.log,
    dispatch: (effects) => gateway.dispatch(effects),
    committed: (events) => {
      metrics.observeApplied(events[events.length - 1]!.seq);
      hub.publish(events);
      endpoints.publish(events);
      fleet.publish(events);
      gateway.fleetMayHaveChanged(events);
      if (events.some((e) => e.event.type === "TokenRevoked" || e.event.type === "TokenIssued")) tokenStreams?.sweep();
    },
    storeFailed: (reason) => {
      gateway.closeAll(`control plane cannot record changes: ${reason}`);
      deps.writeFailed?.();
    },
    metrics,
  }, followed);
  const endpoints = new EndpointsHub(writer.view, () => store.history.newestSeq());
  const fleet = new FleetHub(writer.view, () => store.history.newestSeq());
  const sealing = await clusterSealer(opts, () => store.clusterId(), generationsInUse(writer.view.secrets));
  const deliver = (spec: WorkloadSpec) => deliveredSets(writer.view.secrets, secretNeeds(spec), sealing?.sealer);
  const gateway = new AgentGateway(writer, opts.log, policy, endpoints, tls?.identifyAgent, deps.term, deliver);
  writer.start();
  // From here on the writer takes turns: a start that fails must stop it before the caller
  // closes the store under it.
  try {
    // Tokens are issued through the writer, so they come once it takes turns.
    const tokens = tls ? new Tokens(writer, opts.dataDir) : undefined;
    await tokens?.ensure();
    const { authenticate } = authenticator(tokens);
    const streams = new StreamLimits();
    tokenStreams = tokens && new TokenStreams((token) => tokens.kindOf(token) !== undefined, opts.log);
    const raw = store.supports.snapshot;
    // The database and secrets.key are read while no rotation of the cluster key runs: a
    // snapshot never holds values beside a key file that does not open them.
    const take: TakeSnapshot | undefined = raw && sealing ? (now) => sealing.sealer.exclusive(() => raw(now)) : raw;
    const stopSnapshots = take && opts.snapshots && opts.snapshots.everyMs > 0 ? scheduleSnapshots(take, opts.dataDir, opts.snapshots, opts.log) : undefined;
    return {
      controlPlane: termControlPlane(opts, deps, { writer, gateway, hub, endpoints, policy, authenticate, tokens, tokenStreams, streams, sealing }, take),
      agentGateway: gateway.service as unknown as UntypedServiceImplementation,
      enrollment: tls && tokens ? (createEnrollmentService(tls.pki, writer, opts.log) as unknown as UntypedServiceImplementation) : undefined,
      web: { writer, history: store.history, fleet, gateway, roleOfHash: tokens && ((hash) => tokens.kindOfHash(hash)), streams },
      view: writer.view,
      unavailable: () => writer.unavailable(),
      releaseAgents: (why) => gateway.closeAll(why, true),
      async stop() {
        stopSnapshots?.();
        const stopped = writer.stop();
        tokenStreams?.close();
        gateway.closeAll("control plane shutting down");
        await stopped;
        fleet.close();
        hub.close("this control plane stopped leading (stepped down, or shutting down): watch again");
        endpoints.close("this control plane stopped leading (stepped down, or shutting down): watch again");
      },
    };
  } catch (err) {
    await writer.stop();
    tokenStreams?.close();
    gateway.closeAll("control plane failed to start");
    fleet.close();
    throw err;
  }
}
