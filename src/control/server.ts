/**
 * Starts the control plane: store, single writer, gRPC services. The imperative shell's root.
 */
import { randomUUID, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { experimental, Server, ServerCredentials, type ServerWritableStream, type ServiceDefinition, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import descriptorPath from "../gen/tessera.binpb" with { type: "file" };
import { checkLeaseTiming, type ControlPlaneRow, DEFAULT_LEASE_TIMING, describeControlPlanes, type LeaseTiming } from "../core/lease.js";
import { hostOf } from "../core/listen-address.js";
import { type ControlPlaneMethod, METHOD_ACCESS, type Role } from "../core/authz.js";
import type { ClusterState, ClusterView } from "../core/cluster-state.js";
import type { Logger } from "../core/logger.js";
import { MAX_MESSAGE_BYTES } from "../core/paging.js";
import { DEFAULT_POLICY, type Policy } from "../core/reconcile.js";
import { AgentGatewayService, EnrollmentService } from "../gen/tessera/v1/agent_gateway.js";
import { ControlPlaneService } from "../gen/tessera/v1/control_plane.js";
import { AgentGateway } from "./agent-gateway.js";
import { openClusterStore } from "./cluster-store.js";
import { createControlPlaneService } from "./control-plane-service.js";
import { EndpointsHub } from "./endpoints-hub.js";
import { FleetHub } from "./fleet-hub.js";
import type { Authenticate } from "./rpc.js";
import { controlPlaneId } from "./control-plane-id.js";
import { lockDataDir } from "./data-dir-lock.js";
import { bearer, createEnrollmentService, peerCertificate } from "./security/enrollment.js";
import { checkCaSecret } from "./security/ca-seal.js";
import { CaSecretRefused, databaseCa } from "./security/ca-source.js";
import { Pki, pkiFiles, SERVER_LIFETIME_MS } from "./security/pki.js";
import { Tokens } from "./security/tokens.js";
import { type HttpServer, startHttpServer } from "./http-server.js";
import type { WebApiDeps } from "./web-api.js";
import { LeadershipLoop } from "./leadership.js";
import { PostgresLease } from "./store/postgres/lease.js";
import { PostgresStore } from "./store/postgres/store.js";
import { Metrics } from "./metrics.js";
import type { Store } from "./store/store.js";
import { tolerateUndecodable } from "./undecodable.js";
import { WatchHub } from "./watch-hub.js";
import { type CommandPort, Writer, WriterUnavailable } from "./writer.js";
import { Follower } from "./follower.js";

export interface ControlPlaneOptions {
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  dataDir: string;
  /** postgres://USER@HOST:PORT/DB (`--store`): the state lives there; SQLite in the data dir without it. */
  store?: string;
  log: Logger;
  policy?: Policy;
  /** Periodic reconcile interval. */
  tickMs?: number;
  /** host:port for /metrics, /healthz and /readyz; none when unset. */
  metricsListen?: string;
  /** Plaintext and no credentials. Refused unless the caller checked it is acceptable (loopback, or forced). */
  insecure?: boolean;
  /** Extra names or addresses the server certificate must carry (what agents dial). */
  advertise?: string[];
  /** Lifetime of the server certificates this control plane issues (default 365 days; tests shorten it). */
  serverCertLifetimeMs?: number;
  /** How often the server certificate is checked for renewal (default hourly). */
  certCheckMs?: number;
  /** Start the cluster over with an empty state when its database is refused (emptied, replaced, damaged). */
  reinitialize?: boolean;
  /** The lease on leadership, on PostgreSQL (`--lease-ttl`, `--lease-renew`; default 5 s and 1 s). */
  lease?: LeaseTiming;
  /**
   * Seals the cluster CA's key in the database (`--ca-secret-file` or `$TESSERA_CA_SECRET`):
   * required with `store` unless insecure; every control plane on the database gets the same.
   */
  caSecret?: string;
}

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

/** How often the server certificate is checked; a renewal is due with a third of its lifetime left (months ahead by default). */
const CERT_CHECK_MS = 3_600_000;

interface Tls {
  pki: Pki;
  credentials: ServerCredentials;
  identifyAgent: (stream: { getAuthContext?: () => { sslPeerCertificate?: { raw?: Uint8Array } } }) => Promise<{ node: string } | { refusal: string }>;
  /** Stops the renewal checks. */
  close(): void;
}

/** CA and server certificate; TLS with optional client certificates (agents present theirs). */
async function openTls(opts: ControlPlaneOptions, store: Store): Promise<Tls> {
  const host = hostOf(opts.listen);
  const names = [...new Set([host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host, "127.0.0.1", "localhost", hostname(), ...(opts.advertise ?? [])])];
  const lifetimeMs = opts.serverCertLifetimeMs ?? SERVER_LIFETIME_MS;
  // On PostgreSQL the CA is the cluster's, in the database; the server certificate stays this control plane's own.
  const source = store instanceof PostgresStore ? databaseCa(store, opts.caSecret!, opts.dataDir, opts.log) : undefined;
  const pki = await Pki.open(opts.dataDir, names, lifetimeMs, source);
  const files = pkiFiles(opts.dataDir);
  // The certificates are handed over right after grpc-js subscribes (a microtask: it must
  // finish registering the server first), before any connection can be accepted. With
  // grpc-js's file-watching provider they arrived after asynchronous reads, and a client
  // connecting in between had its TLS handshake dropped.
  const readIdentity = () => ({ certificate: readFileSync(files.serverCert), privateKey: readFileSync(files.serverKey) });
  let identity = readIdentity();
  const identityListeners = new Set<(update: experimental.IdentityCertificateUpdate) => void>();
  const ca = { caCertificate: readFileSync(files.caCert) };
  const provider: experimental.CertificateProvider = {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener(ca)),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) => {
      identityListeners.add(listener);
      queueMicrotask(() => listener(identity));
    },
    removeIdentityCertificateListener: (listener) => identityListeners.delete(listener),
  };
  // A renewed certificate goes to grpc-js's listener, which swaps the server's TLS context:
  // new connections get it, open ones carry on.
  const renewal = setInterval(() => {
    pki.renewServerCertificate(opts.dataDir, names, lifetimeMs).then(
      (renewed) => {
        if (!renewed) return;
        identity = readIdentity();
        for (const listener of identityListeners) listener(identity);
        opts.log.info("server certificate renewed", { validTo: new X509Certificate(identity.certificate).validTo });
      },
      (err: Error) => opts.log.error("server certificate renewal failed; retrying at the next check", { error: err.message }),
    );
  }, opts.certCheckMs ?? CERT_CHECK_MS);
  return {
    close: () => clearInterval(renewal),
    pki,
    // Client certificates are optional at the TLS layer (ctl uses tokens); AgentGateway requires one.
    credentials: experimental.createCertificateProviderServerCredentials(provider, provider, false),
    identifyAgent: async (stream) => {
      const der = peerCertificate(stream);
      if (!der) return { refusal: "agents must present their node certificate (enroll with --join-token)" };
      return pki.verifyClient(der, Date.now());
    },
  };
}

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
  // Before the store is opened: a second control plane on this data dir must not touch it.
  const lock = lockDataDir(opts.dataDir, Date.now());
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

/** What one term of leading runs: the writer, its hubs, the agent gateway, the services' handlers, what the web page serves from. */
interface Term {
  controlPlane: UntypedServiceImplementation;
  agentGateway: UntypedServiceImplementation;
  enrollment?: UntypedServiceImplementation;
  /** The page's API's writer, hubs and gateway (the HTTP listener is the process's). */
  web: Omit<WebApiDeps, "secure">;
  /** The writer's state, for /metrics. */
  view: ClusterView;
  /** Why changes are refused now (the store cannot write), or undefined: /readyz. */
  unavailable(): string | undefined;
  stop(): Promise<void>;
}

interface TermDeps {
  store: Store;
  tls: Tls | undefined;
  metrics: Metrics;
  controlPlanes: () => Promise<ControlPlaneRow[]>;
  /** A write failed: on a shared database, maybe because another control plane took the lease. */
  writeFailed?: () => void;
}

/** Who a call is: every role with security off, else the kind of the token it carries (tokens read from `tokens`' state). */
function authenticator(tokens: Tokens | undefined): { roleOf: (token: string | undefined) => Role | undefined; authenticate: Authenticate } {
  const roleOf = (token: string | undefined): Role | undefined => (!tokens ? "admin" : token === undefined ? undefined : tokens.kindOf(token));
  return { roleOf, authenticate: (metadata) => roleOf(bearer(metadata)) };
}

/**
 * Starts the writer from what the store holds, or from the state this control plane followed
 * as a standby (`followed`), and what serves through it. On SQLite the one term lasts the process.
 */
async function startTerm(opts: ControlPlaneOptions, deps: TermDeps, followed?: ClusterState): Promise<Term> {
  const { store, tls, metrics } = deps;
  const policy = opts.policy ?? DEFAULT_POLICY;
  const hub = new WatchHub(store.history);
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
    },
    storeFailed: (reason) => {
      gateway.closeAll(`control plane cannot record changes: ${reason}`);
      deps.writeFailed?.();
    },
    metrics,
  }, followed);
  const endpoints = new EndpointsHub(writer.view, () => store.history.newestSeq());
  const fleet = new FleetHub(writer.view, () => store.history.newestSeq());
  const gateway = new AgentGateway(writer, opts.log, policy, endpoints, tls?.identifyAgent);
  writer.start();
  // From here on the writer takes turns: a start that fails must stop it before the caller
  // closes the store under it.
  try {
    // Tokens are issued through the writer, so they come once it takes turns.
    const tokens = tls ? new Tokens(writer, opts.dataDir) : undefined;
    await tokens?.ensure();
    const { roleOf, authenticate } = authenticator(tokens);
    return {
      controlPlane: createControlPlaneService({
        writer,
        history: store.history,
        gateway,
        hub,
        endpoints,
        policy,
        log: opts.log,
        authenticate,
        tokens,
        controlPlanes: deps.controlPlanes,
        observeRpc: (method, code, seconds) => metrics.observeRpc(method, code, seconds),
      }) as unknown as UntypedServiceImplementation,
      agentGateway: gateway.service as unknown as UntypedServiceImplementation,
      enrollment: tls && tokens ? (createEnrollmentService(tls.pki, tokens, opts.log) as unknown as UntypedServiceImplementation) : undefined,
      web: { writer, history: store.history, fleet, gateway, roleOf },
      view: writer.view,
      unavailable: () => writer.unavailable(),
      async stop() {
        const stopped = writer.stop();
        gateway.closeAll("control plane shutting down");
        await stopped;
        fleet.close();
        hub.close("this control plane stopped leading (stepped down, or shutting down): watch again");
        endpoints.close("this control plane stopped leading (stepped down, or shutting down): watch again");
      },
    };
  } catch (err) {
    await writer.stop();
    gateway.closeAll("control plane failed to start");
    fleet.close();
    throw err;
  }
}

/** What a standby runs on PostgreSQL: a follower of the leader's commits and the ControlPlane's reads over its state. */
interface Standby {
  follower: Follower;
  /** The ControlPlane's handlers once the follower has a state: reads; changes refused naming the leader; no Logs or Exec. */
  reads(): UntypedServiceImplementation | undefined;
  /** Stops following; the state, caught up and normalized, for the term that starts (undefined: load instead). */
  handOver(): Promise<{ state: ClusterState; seq: number } | undefined>;
  /** Stops following (the control plane stops). */
  close(): Promise<void>;
}

interface StandbyDeps {
  store: PostgresStore;
  tls: Tls | undefined;
  metrics: Metrics;
  timing: LeaseTiming;
  controlPlanes: () => Promise<ControlPlaneRow[]>;
  /** What a change is refused with: not the leader, naming it. */
  notLeader: () => string;
}

/** Follows the leader's commits (catching up at least every renewal interval) and serves reads from them. */
function startStandby(opts: ControlPlaneOptions, deps: StandbyDeps): Standby {
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
  const handlers = createControlPlaneService({
    writer: port,
    history: store.history,
    hub,
    endpoints,
    policy: opts.policy ?? DEFAULT_POLICY,
    log: opts.log,
    authenticate: authenticator(tokens).authenticate,
    tokens,
    controlPlanes: deps.controlPlanes,
    observeRpc: (method, code, seconds) => metrics.observeRpc(method, code, seconds),
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

/** The gRPC server, and the terms it serves through: one for the process on SQLite, one per lease taken on PostgreSQL. */
async function serve(opts: ControlPlaneOptions, store: Store, timing: LeaseTiming): Promise<RunningControlPlane> {
  const tls = opts.insecure ? undefined : await openTls(opts, store);
  const metrics = new Metrics();
  let term: Term | undefined;
  let standby: Standby | undefined;
  let stopping = false;
  let leadership: LeadershipLoop | undefined;
  let lease: PostgresLease | undefined;
  let http: HttpServer | undefined;
  let address = "";
  const refusal = () => leadership?.notLeader() ?? "control plane is shutting down";
  let health: HealthImplementation | undefined;
  const setHealth = (s: "SERVING" | "NOT_SERVING") => {
    for (const name of ["", ...SERVICES]) health?.setStatus(name, s);
  };

  const server = new Server({
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  try {
    // A standby answers reads from the state it follows; everything else, and all of it before it has a state, is refused naming the leader.
    server.addService(tolerateUndecodable(ControlPlaneService), throughTerm(ControlPlaneService, () => term?.controlPlane ?? standby?.reads(), refusal));
    server.addService(tolerateUndecodable(AgentGatewayService), throughTerm(AgentGatewayService, () => term?.agentGateway, refusal));
    if (tls) server.addService(tolerateUndecodable(EnrollmentService), throughTerm(EnrollmentService, () => term?.enrollment, refusal));
    // Standard tools (grpcurl, grpc_health_probe) work without the .proto files.
    health = new HealthImplementation({ "": "NOT_SERVING", [SERVICES[0]]: "NOT_SERVING", [SERVICES[1]]: "NOT_SERVING" });
    health.addToServer(server);
    const ours = loadFileDescriptorSetFromBuffer(readFileSync(descriptorPath));
    new ReflectionService(ours as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);
    const host = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(opts.listen, tls?.credentials ?? ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    address = `${host}:${port}`;
    // The process's, not a term's: a standby too serves /metrics, and says why it is not ready.
    http = opts.metricsListen
      ? startHttpServer({
          listen: opts.metricsListen,
          metrics,
          notReady: () => (stopping ? "shutting down" : term ? term.unavailable() : leadership ? refusal() : "starting"),
          refresh: () => {
            const view = term?.view ?? standby?.follower.view;
            if (view) metrics.observeState(view);
          },
          log: opts.log,
          tls: tls && { cert: pkiFiles(opts.dataDir).serverCert, key: pkiFiles(opts.dataDir).serverKey },
        })
      : undefined;

    const lead = async (epoch = 0) => {
      // A term kept for reads while the database was down ends first: the new one loads what the database holds.
      const started = performance.now();
      const kept = term;
      term = undefined;
      await kept?.stop();
      // A standby's state, caught up: the lease is taken, so no earlier epoch commits again.
      const following = standby;
      standby = undefined;
      const followed = await following?.handOver();
      metrics.observeTerm(epoch);
      term = await startTerm(
        opts,
        {
          store,
          tls,
          metrics,
          controlPlanes,
          writeFailed: () => leadership?.verify(),
        },
        followed?.state,
      );
      const ms = Math.round(performance.now() - started);
      if (followed) opts.log.info("leading from memory", { epoch, seq: followed.seq, ms });
      else if (leadership) opts.log.info("leading from a load of the database", { epoch, ms });
      http?.serveWeb(term.web);
      setHealth("SERVING");
    };
    const follow = () => {
      if (!stopping && standby === undefined && store instanceof PostgresStore) {
        metrics.observeStandby();
        standby = startStandby(opts, { store, tls, metrics, timing, controlPlanes, notLeader: refusal });
      }
    };
    const stepDown = async () => {
      const ending = term;
      term = undefined;
      http?.serveWeb(undefined);
      setHealth("NOT_SERVING");
      await ending?.stop();
      follow();
    };
    const controlPlanes = async (): Promise<ControlPlaneRow[]> => {
      if (!lease) return [{ id: "", address, role: "leader", epoch: 0, lastRenewal: 0, behind: 0 }];
      const { lease: current, members, newestSeq, dbNow } = await lease.survey();
      return describeControlPlanes(members, current, newestSeq, dbNow, timing, FORGET_MEMBERS_MS);
    };

    if (store instanceof PostgresStore) {
      // Statements time out within a renewal interval: a hung one must not hold the next attempt past the deadline.
      lease = new PostgresLease(opts.store!, timing.renewMs);
      const suspend = async () => setHealth("NOT_SERVING");
      // A term's state holds what it committed; a standby's what it followed.
      const appliedSeq = () => (term ? store.history.newestSeq() : (standby?.follower.appliedSeq ?? 0));
      leadership = new LeadershipLoop({ lease, store, me: { id: controlPlaneId(opts.dataDir, randomUUID), address: advertisedAddress(address) }, appliedSeq, timing, log: opts.log, lead, stepDown, suspend });
      follow();
      leadership.start();
    } else {
      await lead();
    }
    opts.log.info("control plane listening", { address, dataDir: opts.dataDir, store: store.location, tls: tls !== undefined, ...(leadership ? { role: "standby until it takes the lease" } : {}) });

    return {
      address,
      httpAddress: http?.address,
      webUrl: http?.url,
      async stop() {
        stopping = true;
        setHealth("NOT_SERVING");
        if (leadership) await leadership.stop();
        else await stepDown();
        await standby?.close();
        tls?.close();
        // tryShutdown never calls back while a stream is open: fall back to force.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, SHUTDOWN_GRACE_MS);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        await http?.stop();
        await lease?.close();
        await store.close();
      },
    };
  } catch (err) {
    stopping = true;
    await leadership?.stop();
    await standby?.close();
    await term?.stop();
    await http?.stop();
    await lease?.close();
    tls?.close();
    server.forceShutdown();
    throw err;
  }
}

/** What other control planes and `get control-planes` show for this one: a wildcard host is this host's name. */
function advertisedAddress(bound: string): string {
  const host = hostOf(bound);
  return host === "0.0.0.0" || host === "::" || host === "" || host === "[::]" ? `${hostname()}:${bound.slice(bound.lastIndexOf(":") + 1)}` : bound;
}
