/**
 * Starts the control plane: store, TLS, the gRPC server and the HTTP listener, which last the
 * process, and what they serve through: one term (term.ts) on SQLite; on PostgreSQL the
 * leadership loop's terms, and a standby (standby.ts) between them. The imperative shell's root.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Server, ServerCredentials, type ServerWritableStream, type ServiceDefinition, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import descriptorPath from "../../gen/tessera.binpb" with { type: "file" };
import { checkLeaseTiming, type ControlPlaneRow, DEFAULT_LEASE_TIMING, describeControlPlanes, type LeaseTiming } from "../../core/ha/lease.js";
import type { Logger } from "../../shell/logger.js";
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
import { openTls, servedNames } from "../security/server-tls.js";
import { type Standby, startStandby } from "./standby.js";
import type { PostgresLease } from "../store/postgres/lease.js";
import { describeDatabaseError } from "../store/postgres/unreachable.js";
import { type Store, StoreUnreachable } from "../store/store.js";
import type { ControlPlaneOptions } from "./options.js";
import { startTerm, type Term } from "./term.js";
import { tolerateUndecodable } from "../grpc/undecodable.js";

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

/** The gRPC server, and the terms it serves through: one for the process on SQLite, one per lease taken on PostgreSQL. */
async function serve(opts: ControlPlaneOptions, store: Store, timing: LeaseTiming): Promise<RunningControlPlane> {
  const tls = opts.insecure ? undefined : await openTls(opts, store);
  const metrics = new Metrics();
  // On a database control planes share: a lease on leading, and a standby between terms.
  const shared = store.supports.lease;
  let term: Term | undefined;
  /** The term stepped down and answers reads only, until the database answers: agents go elsewhere. */
  let suspended = false;
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
    const controlPlane = throughTerm(ControlPlaneService, () => term?.controlPlane ?? standby?.reads(), refusal);
    server.addService(tolerateUndecodable(ControlPlaneService), controlPlane);
    server.addService(tolerateUndecodable(AgentGatewayService), throughTerm(AgentGatewayService, () => (suspended ? undefined : term?.agentGateway), refusal));
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
            if (view) metrics.observeState(view, term?.web.gateway?.usage);
          },
          log: opts.log,
          tls: tls && { cert: pkiFiles(opts.dataDir).serverCert, key: pkiFiles(opts.dataDir).serverKey },
          names: servedNames({ listen: opts.metricsListen, advertise: servedNames(opts) }),
          api: controlPlane,
        })
      : undefined;

    const lead = async (epoch = 0) => {
      // A term kept for reads while the database was down ends first: the new one loads what the database holds.
      const started = performance.now();
      const kept = term;
      term = undefined;
      suspended = false;
      if (kept) http?.serveWeb(undefined);
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
      opts.onLead?.();
    };
    const follow = () => {
      if (!stopping && standby === undefined && shared) {
        metrics.observeStandby();
        standby = startStandby(opts, { store: shared, tls, metrics, timing, controlPlanes, notLeader: refusal });
      }
    };
    const stepDown = async () => {
      const ending = term;
      term = undefined;
      suspended = false;
      http?.serveWeb(undefined);
      setHealth("NOT_SERVING");
      await ending?.stop();
      follow();
    };
    const controlPlanes = async (): Promise<ControlPlaneRow[]> => {
      if (!lease) return [{ id: "", address, role: "leader", epoch: 0, lastRenewal: 0, behind: 0 }];
      // The roll is the database's alone: out of reach, it is refused naming the database (reads of memory still answer).
      const { lease: current, members, newestSeq, dbNow } = await lease.survey().catch((err: unknown) => {
        throw new StoreUnreachable(`cannot list the control planes, which only the database knows: ${describeDatabaseError(err, store.location).message}`);
      });
      return describeControlPlanes(members, current, newestSeq, dbNow, timing, FORGET_MEMBERS_MS);
    };

    if (shared) {
      // Statements time out within a renewal interval: a hung one must not hold the next attempt past the deadline.
      lease = shared.openLease(timing.renewMs);
      // Its agents are sent away (refused naming why, as a standby refuses them): one given
      // several control planes moves to the next, which names the leader once one leads.
      const suspend = async () => {
        setHealth("NOT_SERVING");
        suspended = true;
        term?.releaseAgents(refusal());
      };
      // A term's state holds what it committed; a standby's what it followed.
      const appliedSeq = () => (term ? store.history.newestSeq() : (standby?.follower.appliedSeq ?? 0));
      leadership = new LeadershipLoop({ lease, store: shared, me: { id: controlPlaneId(opts.dataDir, randomUUID), address: advertisedAddress(address, opts.advertise ?? [], hostAddresses()) }, appliedSeq, timing, log: opts.log, lead, stepDown, suspend });
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
