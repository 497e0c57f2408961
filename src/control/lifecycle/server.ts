/**
 * Starts the control plane: store, TLS, the gRPC server and the HTTP listener, which last the
 * process, and what they serve through, the role it holds (roles.ts): one term (term.ts) on
 * SQLite; on PostgreSQL the leadership loop's terms, and a standby (standby.ts) between them.
 * The imperative shell's root.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Server, ServerCredentials, type ServerWritableStream, type ServiceDefinition, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import descriptorPath from "../../gen/tessera.binpb" with { type: "file" };
import { checkLeaseTiming, type ControlPlaneRow, DEFAULT_LEASE_TIMING, describeControlPlanes, type LeaseTiming } from "../../core/ha/lease.js";
import { MAX_MESSAGE_BYTES } from "../../core/views/paging.js";
import { AgentGatewayService, EnrollmentService } from "../../gen/tessera/v1/agent_gateway.js";
import { ControlPlaneService } from "../../gen/tessera/v1/control_plane.js";
import { lockDataDir } from "../../shell/data-dir-lock.js";
import { ensurePrivateDir } from "../../shell/private-dir.js";
import { hostAddresses } from "../../shell/host-addresses.js";
import { advertisedAddress } from "./advertised.js";
import { openClusterStore } from "./cluster-store.js";
import { controlPlaneId } from "./control-plane-id.js";
import { type HttpServer, startHttpServer } from "../http/http-server.js";
import { LeadershipLoop } from "./leadership.js";
import { Metrics } from "../http/metrics.js";
import { checkCaSecret } from "../security/ca-seal.js";
import { CaSecretRefused } from "../security/ca-source.js";
import { pkiFiles } from "../security/pki.js";
import { openTls, servedNames, type Tls } from "../security/server-tls.js";
import type { PostgresLease } from "../store/postgres/lease.js";
import { describeDatabaseError } from "../store/postgres/unreachable.js";
import { type Store, StoreUnreachable } from "../store/store.js";
import type { ControlPlaneOptions } from "./options.js";
import { Roles } from "./roles.js";
import { tolerateUndecodable } from "../grpc/undecodable.js";
import { DEFAULT_POLICY } from "../../core/reconcile/reconcile.js";

export interface RunningControlPlane {
  /** host:port actually bound. */
  address: string;
  /** host:port of the HTTP listener (`metricsListen`), for the process's life. */
  httpAddress?: string;
  /** The web page's address on it. */
  webUrl?: string;
  stop(): Promise<void>;
}

/** Bun's HTTP/2 server breaks past ~5,000 concurrent streams on one connection; stay far below. */
const MAX_CONCURRENT_STREAMS = 500;
const SHUTDOWN_GRACE_MS = 2_000;
/** A control plane unheard for this long is left out of `get control-planes`. */
const FORGET_MEMBERS_MS = 3_600_000;
/** Service names reported by grpc.health.v1. */
const SERVICES = ["tessera.v1.ControlPlane", "tessera.v1.AgentGateway"] as const;


export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const timing = opts.lease ?? DEFAULT_LEASE_TIMING;
  const badTiming = checkLeaseTiming(timing);
  if (badTiming) throw new Error(badTiming);
  if (opts.store !== undefined && !opts.insecure) {
    if (opts.caSecret === undefined) {
      throw new CaSecretRefused(
        "--ca-secret-file: required with --store postgres://… (or $TESSERA_CA_SECRET): the cluster CA's key is kept in the database sealed with it, and every control plane on the database is given the same secret",
      );
    }
    const weak = checkCaSecret(opts.caSecret);
    if (weak) throw new CaSecretRefused(`--ca-secret-file: ${weak}`);
  }
  // Its tokens, keys and database are for its owner only.
  ensurePrivateDir(opts.dataDir, "--data-dir");
  // Before the store is opened: a second control plane on this data dir must not touch it.
  const lock = lockDataDir(opts.dataDir, "control plane", Date.now());
  let store: Store | undefined;
  try {
    store = await openClusterStore(opts.dataDir, { store: opts.store, reinitialize: opts.reinitialize ?? false, log: opts.log, now: Date.now(), freshId: randomUUID() });
    const running = await serve(opts, store, timing);
    return {
      ...running,
      async stop() {
        await running.stop();
        lock.release();
      },
    };
  } catch (err) {
    await store?.close();
    lock.release();
    throw err;
  }
}


/**
 * A service whose calls go to the current term's handlers, or, with none (a standby, a term
 * starting or ending), are refused with UNAVAILABLE saying why.
 */
function throughTerm(service: ServiceDefinition, handlers: () => UntypedServiceImplementation | undefined, refusal: () => string): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = ((call: ServerWritableStream<unknown, unknown>, callback?: (err: { code: status; details: string }) => void) => {
      const handler = handlers()?.[name] as ((...args: unknown[]) => void) | undefined;
      if (handler) return handler(call, callback);
      const err = { code: status.UNAVAILABLE, details: refusal() };
      // Unary and client-streaming calls answer through their callback; the others end their stream.
      if (!method.responseStream) callback!(err);
      else call.emit("error", err);
    }) as UntypedServiceImplementation[string];
  }
  return out;
}

/** The services, through the role's handlers (refused naming the leader when it has none); health and reflection. */
function addServices(server: Server, tls: Tls | undefined, roles: Roles): { controlPlane: UntypedServiceImplementation; health: HealthImplementation } {
  // A standby answers reads from the state it follows; everything else, and all of it before it has a state, is refused naming the leader.
  const controlPlane = throughTerm(ControlPlaneService, () => roles.controlPlane(), roles.refusal);
  server.addService(tolerateUndecodable(ControlPlaneService), controlPlane);
  server.addService(tolerateUndecodable(AgentGatewayService), throughTerm(AgentGatewayService, () => roles.agentGateway(), roles.refusal));
  if (tls) server.addService(tolerateUndecodable(EnrollmentService), throughTerm(EnrollmentService, () => roles.enrollment(), roles.refusal));
  // Standard tools (grpcurl, grpc_health_probe) work without the .proto files.
  const health = new HealthImplementation({ "": "NOT_SERVING", [SERVICES[0]]: "NOT_SERVING", [SERVICES[1]]: "NOT_SERVING" });
  health.addToServer(server);
  const ours = loadFileDescriptorSetFromBuffer(readFileSync(descriptorPath));
  new ReflectionService(ours as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);
  return { controlPlane, health };
}

/** Binds the gRPC server: the host:port bound (port 0 picks a free one). */
async function bind(server: Server, listen: string, tls: Tls | undefined): Promise<string> {
  const host = listen.slice(0, listen.lastIndexOf(":"));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, tls?.credentials ?? ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return `${host}:${port}`;
}

/** The process's HTTP listener, not a term's: a standby too serves /metrics, and says why it is not ready. */
function startHttp(opts: ControlPlaneOptions, tls: Tls | undefined, metrics: Metrics, roles: Roles, api: UntypedServiceImplementation): HttpServer | undefined {
  if (!opts.metricsListen) return undefined;
  return startHttpServer({
    listen: opts.metricsListen,
    metrics,
    notReady: () => roles.notReady(),
    refresh: () => {
      const observed = roles.observed();
      if (observed) metrics.observeState(observed.view, observed.usage, opts.policy ?? DEFAULT_POLICY);
    },
    log: opts.log,
    tls: tls && { cert: pkiFiles(opts.dataDir).serverCert, key: pkiFiles(opts.dataDir).serverKey },
    names: servedNames({ listen: opts.metricsListen, advertise: servedNames(opts) }),
    api,
  });
}

/** The control planes on the database (ListControlPlanes); without a lease, this one alone, leading. */
async function listControlPlanes(lease: PostgresLease | undefined, address: string, store: Store, timing: LeaseTiming): Promise<ControlPlaneRow[]> {
  if (!lease) return [{ id: "", address, role: "leader", epoch: 0, lastRenewal: 0, behind: 0 }];
  // The roll is the database's alone: out of reach, it is refused naming the database (reads of memory still answer).
  const { lease: current, members, newestSeq, dbNow } = await lease.survey().catch((err: unknown) => {
    throw new StoreUnreachable(`cannot list the control planes, which only the database knows: ${describeDatabaseError(err, store.location).message}`);
  });
  return describeControlPlanes(members, current, newestSeq, dbNow, timing, FORGET_MEMBERS_MS);
}

/** Stops the gRPC server; tryShutdown never calls back while a stream is open: fall back to force. */
function shutdown(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The gRPC server, and the roles it serves through: one term for the process on SQLite; on a shared database, one per lease taken and a standby between them. */
async function serve(opts: ControlPlaneOptions, store: Store, timing: LeaseTiming): Promise<RunningControlPlane> {
  const tls = opts.insecure ? undefined : await openTls(opts, store);
  const metrics = new Metrics();
  const shared = store.supports.lease;
  // Made once each, as the server starts; the catch below ends those made.
  let leadership: LeadershipLoop | undefined;
  let lease: PostgresLease | undefined;
  let http: HttpServer | undefined;
  let health: HealthImplementation | undefined;
  let address = "";
  const setHealth = (s: "SERVING" | "NOT_SERVING") => {
    for (const name of ["", ...SERVICES]) health?.setStatus(name, s);
  };
  const controlPlanes = () => listControlPlanes(lease, address, store, timing);
  const roles = new Roles({ opts, store, tls, metrics, timing, controlPlanes, leadership: () => leadership, http: () => http, setHealth });
  const server = new Server({
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    // No channelz service is served: its per-call and per-message counters would be kept for no one.
    "grpc.enable_channelz": 0,
  });
  try {
    const services = addServices(server, tls, roles);
    health = services.health;
    address = await bind(server, opts.listen, tls);
    http = startHttp(opts, tls, metrics, roles, services.controlPlane);
    if (shared) {
      // Statements time out within a renewal interval: a hung one must not hold the next attempt past the deadline.
      lease = shared.openLease(timing.renewMs);
      const me = { id: controlPlaneId(opts.dataDir, randomUUID), address: advertisedAddress(address, opts.advertise ?? [], hostAddresses()) };
      leadership = new LeadershipLoop({ lease, store: shared, me, appliedSeq: () => roles.appliedSeq(), timing, log: opts.log, lead: (epoch) => roles.lead(epoch, me.id), stepDown: () => roles.stepDown(), suspend: () => roles.suspend() });
      roles.follow();
      leadership.start();
    } else {
      await roles.lead();
    }
    opts.log.info("control plane listening", { address, dataDir: opts.dataDir, store: store.location, tls: tls !== undefined, ...(leadership ? { role: "standby until it takes the lease" } : {}) });
    return {
      address,
      httpAddress: http?.address,
      webUrl: http?.url,
      async stop() {
        roles.beginStopping();
        setHealth("NOT_SERVING");
        if (leadership) await leadership.stop();
        else await roles.stepDown();
        await roles.close();
        tls?.close();
        await shutdown(server);
        await http?.stop();
        await lease?.close();
        await store.close();
      },
    };
  } catch (err) {
    roles.beginStopping();
    await leadership?.stop();
    await roles.close();
    await http?.stop();
    await lease?.close();
    tls?.close();
    server.forceShutdown();
    throw err;
  }
}
