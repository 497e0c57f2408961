/**
 * The control plane's HTTP listener: /metrics (Prometheus), /healthz, /readyz, and the web
 * console at / (and its other pages, PAGE_PATHS) with its API under /api/. The page, its script and styles are bundled
 * into the binary (a Bun HTML import). TLS, with the control plane's server certificate, when
 * it listens beyond loopback.
 *
 * It lasts as long as the process: a standby on PostgreSQL serves /metrics (its lag, its role)
 * and /healthz, and answers /readyz, the page and its API with 503 saying why (not the leader,
 * naming it). The page and its API come with a term (`serveWeb`), swapped in and out of the
 * running server (Bun's `reload` takes new routes; nothing is unbound). Every route of the page
 * and its API goes through web-guard.ts; bodies are small (a sign-in's token at most).
 */
import page from "../../web/index.html";
import { status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { hostOf, isLoopback } from "../../core/ha/listen-address.js";
import { MAX_MESSAGE_BYTES } from "../../core/views/paging.js";
import { refuseApiRequest } from "../../core/access/web-request.js";
import type { Logger } from "../../shell/logger.js";
import type { Metrics } from "./metrics.js";
import { EVENT_STREAM_PATH, serveEventStream } from "./event-stream.js";
import { serveHttpApi, statusResponse } from "./http-api.js";
import { createWebApi, type WebApiDeps } from "./web-api.js";
import { guardAll, type Route, SECURITY_HEADERS } from "./web-guard.js";

export interface HttpServer {
  address: string;
  /** Where the web page is: http(s)://host:port/. */
  url: string;
  /** Serves the page and its API from a term's state and writer; undefined: answers them 503 with `notReady`'s reason. */
  serveWeb(web: Omit<WebApiDeps, "secure"> | undefined): void;
  stop(): Promise<void>;
}

/** The console's pages (its router, src/web/routes.ts, reads the rest of the address): each serves the one HTML page, so a link or a reload lands where it points. */
export const PAGE_PATHS = ["/", "/workloads", "/workloads/:name", "/nodes", "/nodes/:name", "/events"] as const;
const PAGE_PATH = /^\/(?:(?:workloads|nodes)(?:\/[^/]+)?|events)?$/;

/** The page and the API's paths, answered 503 while no term serves them. */
const isWebPath = (pathname: string) => PAGE_PATH.test(pathname) || pathname.startsWith("/api/");

/**
 * The page's files, each with its own headers. A compiled binary carries them as files (the
 * guard then adds its headers to each); run from source, Bun bundles the page as it is asked
 * for, which only a bundle route can serve.
 */
function pageRoutes(): Record<string, Route> {
  if (!page.files) return {};
  return Object.fromEntries(
    page.files.flatMap((f) => {
      const route = { GET: () => new Response(Bun.file(f.path), { headers: { ...f.headers, "cache-control": f.loader === "html" ? "no-cache" : "public, max-age=31536000, immutable" } }) };
      return f.loader === "html" ? PAGE_PATHS.map((path) => [path, route]) : [[`/${f.path.slice(f.path.lastIndexOf("/") + 1)}`, route]];
    }),
  );
}

/** `notReady` says why the control plane cannot take changes now (/readyz answers 503 with it), or undefined. */
export function startHttpServer(opts: {
  listen: string;
  metrics: Metrics;
  notReady: () => string | undefined;
  refresh: () => void;
  log: Logger;
  /** PEM files of the server certificate, used beyond loopback; none: plaintext everywhere (--insecure). */
  tls?: { cert: string; key: string };
  /** Names and addresses the control plane serves as, besides loopback: the only Host headers the page and its API answer. */
  names: readonly string[];
  /** The ControlPlane service as the gRPC server serves it: the HTTP/JSON API under /v1/ calls it. */
  api?: UntypedServiceImplementation;
}): HttpServer {
  const hostname = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
  const port = Number(opts.listen.slice(opts.listen.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-listen: expected host:port, got "${opts.listen}"`);
  // Read once: Bun's server.reload() ignores `tls` (Bun 1.4.5, oven-sh/bun#43815), so a renewed
  // certificate is served from the next start (README, the mosaic).
  const tls = opts.tls && !isLoopback(opts.listen) ? { cert: Bun.file(opts.tls.cert), key: Bun.file(opts.tls.key) } : undefined;
  let serving = false;
  const fetch = async (req: Request): Promise<Response> => {
    const { pathname } = new URL(req.url);
    if (opts.api && pathname.startsWith("/v1/")) {
      const refusal = refuseApiRequest({ host: req.headers.get("host"), origin: req.headers.get("origin"), fetchSite: req.headers.get("sec-fetch-site") }, tls ? "https" : "http", opts.names);
      if (refusal) return statusResponse({ code: status.PERMISSION_DENIED, details: refusal.error }, SECURITY_HEADERS);
      return pathname === EVENT_STREAM_PATH ? serveEventStream(opts.api, req) : serveHttpApi(opts.api, req);
    }
    // Reached by the page's paths only when no route has them: no term serves them yet, or none is there.
    if (isWebPath(pathname)) {
      const headers = { ...SECURITY_HEADERS, "cache-control": "no-store" };
      if (serving) return Response.json({ error: `path: no ${pathname} here` }, { status: 404, headers });
      return Response.json({ error: `not ready: ${opts.notReady() ?? "starting"}` }, { status: 503, headers });
    }
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
  };
  const server = Bun.serve({ hostname, port, tls, development: false, maxRequestBodySize: MAX_MESSAGE_BYTES, fetch });
  const address = `${hostname}:${server.port}`;
  const host = hostOf(opts.listen);
  const shown = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const url = `${tls ? "https" : "http"}://${shown}:${server.port}/`;
  opts.log.info("http listening", { address, url, paths: ["/", "/api/", "/v1/", "/metrics", "/healthz", "/readyz"] });
  return {
    address,
    url,
    serveWeb(web) {
      serving = web !== undefined;
      const guarded = web && guardAll({ ...pageRoutes(), ...createWebApi({ ...web, secure: tls !== undefined }) }, { scheme: tls ? "https" : "http", names: opts.names });
      // Routes left out of a reload stay: none is an empty table.
      const routes = guarded ? { ...(page.files ? {} : Object.fromEntries(PAGE_PATHS.map((path) => [path, page]))), ...guarded } : {};
      server.reload({ routes: routes as Bun.Serve.Routes<undefined, string>, fetch });
    },
    async stop() {
      await server.stop(true);
    },
  };
}
