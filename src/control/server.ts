/**
 * Starts the control plane: store, single writer, gRPC services. The imperative shell's root.
 */
import { readFileSync } from "node:fs";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import descriptorPath from "../gen/tessera.binpb" with { type: "file" };
import type { Logger } from "../core/logger.js";
import { DEFAULT_POLICY, type Policy } from "../core/reconcile.js";
import { AgentGatewayService } from "../gen/tessera/v1/agent_gateway.js";
import { ControlPlaneService } from "../gen/tessera/v1/control_plane.js";
import { AgentGateway } from "./agent-gateway.js";
import { createControlPlaneService } from "./control-plane-service.js";
import { startHttpServer } from "./http-server.js";
import { Metrics } from "./metrics.js";
import { Store } from "./store/store.js";
import { tolerateUndecodable } from "./undecodable.js";
import { WatchHub } from "./watch-hub.js";
import { Writer } from "./writer.js";

export interface ControlPlaneOptions {
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  dataDir: string;
  log: Logger;
  policy?: Policy;
  /** Periodic reconcile interval. */
  tickMs?: number;
  /** host:port for /metrics, /healthz and /readyz; none when unset. */
  metricsListen?: string;
}

export interface RunningControlPlane {
  /** host:port actually bound. */
  address: string;
  /** host:port of the HTTP listener, when there is one. */
  httpAddress?: string;
  stop(): Promise<void>;
}

/** Bun's HTTP/2 server breaks past ~5,000 concurrent streams on one connection; stay far below. */
const MAX_CONCURRENT_STREAMS = 500;
const SHUTDOWN_GRACE_MS = 2_000;
/** Service names reported by grpc.health.v1. */
const SERVICES = ["tessera.v1.ControlPlane", "tessera.v1.AgentGateway"] as const;
/** Largest request or response; a workload manifest is a few KiB. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const policy = opts.policy ?? DEFAULT_POLICY;
  const store = new Store(opts.dataDir);
  const hub = new WatchHub(store);
  const metrics = new Metrics();
  let gateway: AgentGateway | undefined;
  const writer = new Writer({
    store,
    policy,
    tickMs: opts.tickMs ?? 2_000,
    log: opts.log,
    dispatch: (effects) => gateway?.dispatch(effects),
    committed: (events) => hub.publish(events),
    metrics,
  });
  gateway = new AgentGateway(writer, opts.log);

  const server = new Server({
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  server.addService(tolerateUndecodable(ControlPlaneService), createControlPlaneService({
      writer,
      store,
      gateway,
      hub,
      policy,
      log: opts.log,
      observeRpc: (method, code, seconds) => metrics.observeRpc(method, code, seconds),
    }));
  server.addService(tolerateUndecodable(AgentGatewayService), gateway.service);
  // Standard tools (grpcurl, grpc_health_probe) work without the .proto files.
  const health = new HealthImplementation({ "": "NOT_SERVING", [SERVICES[0]]: "NOT_SERVING", [SERVICES[1]]: "NOT_SERVING" });
  health.addToServer(server);
  const ours = loadFileDescriptorSetFromBuffer(readFileSync(descriptorPath));
  new ReflectionService(ours as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.listen, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `${host}:${port}`;
  for (const name of ["", ...SERVICES]) health.setStatus(name, "SERVING");
  let serving = true;
  const http = opts.metricsListen
    ? startHttpServer({ listen: opts.metricsListen, metrics, ready: () => serving, refresh: () => metrics.observeState(writer.state), log: opts.log })
    : undefined;
  opts.log.info("control plane listening", { address, dataDir: opts.dataDir });

  return {
    address,
    httpAddress: http?.address,
    async stop() {
      serving = false;
      await http?.stop();
      for (const name of ["", ...SERVICES]) health.setStatus(name, "NOT_SERVING");
      writer.stop();
      gateway.closeAll();
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
      store.close();
    },
  };
}
