/**
 * The control plane's HTTP listener: /metrics (Prometheus), /healthz, /readyz, and the web
 * page (the mosaic) at / with its API under /api/. The page, its script and styles are bundled
 * into the binary (a Bun HTML import). TLS, with the control plane's server certificate, when
 * it listens beyond loopback.
 */
import page from "../web/index.html";
import { hostOf, isLoopback } from "../core/listen-address.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "./metrics.js";
import { createWebApi, type WebApiDeps } from "./web-api.js";

export interface HttpServer {
  address: string;
  /** Where the web page is: http(s)://host:port/. */
  url: string;
  stop(): Promise<void>;
}

/** `notReady` says why the control plane cannot take changes now (/readyz answers 503 with it), or undefined. */
export function startHttpServer(opts: {
  listen: string;
  metrics: Metrics;
  notReady: () => string | undefined;
  refresh: () => void;
  log: Logger;
  /** The page and its API; none serves only the paths above (the listener's own tests). */
  web?: Omit<WebApiDeps, "secure">;
  /** PEM files of the server certificate, used beyond loopback; none: plaintext everywhere (--insecure). */
  tls?: { cert: string; key: string };
}): HttpServer {
  const hostname = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
  const port = Number(opts.listen.slice(opts.listen.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-listen: expected host:port, got "${opts.listen}"`);
  // Read once: Bun's server.reload() ignores `tls` (Bun 1.4.5, oven-sh/bun#43815), so a renewed
  // certificate is served from the next start (README, the mosaic).
  const tls = opts.tls && !isLoopback(opts.listen) ? { cert: Bun.file(opts.tls.cert), key: Bun.file(opts.tls.key) } : undefined;
  const server = Bun.serve({
    hostname,
    port,
    tls,
    development: false,
    routes: opts.web ? { "/": page, ...createWebApi({ ...opts.web, secure: tls !== undefined }) } : undefined,
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
  const host = hostOf(opts.listen);
  const shown = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const url = `${tls ? "https" : "http"}://${shown}:${server.port}/`;
  opts.log.info("http listening", { address, url, paths: [...(opts.web ? ["/", "/api/"] : []), "/metrics", "/healthz", "/readyz"] });
  return {
    address,
    url,
    async stop() {
      await server.stop(true);
    },
  };
}
