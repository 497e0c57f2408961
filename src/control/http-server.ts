/** The control plane's HTTP listener: /metrics (Prometheus), /healthz, /readyz. */
import type { Logger } from "../core/logger.js";
import type { Metrics } from "./metrics.js";

export interface HttpServer {
  address: string;
  stop(): Promise<void>;
}

/** `notReady` says why the control plane cannot take changes now (/readyz answers 503 with it), or undefined. */
export function startHttpServer(opts: { listen: string; metrics: Metrics; notReady: () => string | undefined; refresh: () => void; log: Logger }): HttpServer {
  const at = opts.listen.lastIndexOf(":");
  const hostname = opts.listen.slice(0, at);
  const port = Number(opts.listen.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-listen: expected host:port, got "${opts.listen}"`);
  const server = Bun.serve({
    hostname,
    port,
    fetch: async (req) => {
      const { pathname } = new URL(req.url);
      if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
      switch (pathname) {
        case "/metrics":
          opts.refresh();
          return new Response(await opts.metrics.registry.metrics(), { headers: { "content-type": opts.metrics.registry.contentType } });
        case "/healthz":
          return new Response("ok\n");
        case "/readyz": {
          const why = opts.notReady();
          return why === undefined ? new Response("ready\n") : new Response(`not ready: ${why}\n`, { status: 503 });
        }
        default:
          return new Response("not found\n", { status: 404 });
      }
    },
  });
  const address = `${hostname}:${server.port}`;
  opts.log.info("http listening", { address, paths: ["/metrics", "/healthz", "/readyz"] });
  return {
    address,
    async stop() {
      await server.stop(true);
    },
  };
}
