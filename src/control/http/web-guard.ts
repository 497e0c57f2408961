/**
 * What wraps every route of the web page and its API: the request policy of
 * core/web-request.ts (Host, Origin, Sec-Fetch-Site, JSON bodies), a 405 naming the methods a
 * route answers, and the headers that keep the page from being framed, from running scripts or
 * styles it did not ship, and from sending its address on.
 */
import { refuseWebRequest } from "../../core/access/web-request.js";

/** Scripts, styles and connections only from the page's own origin; no frames, no plugins, no forms sent elsewhere. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CSP,
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

/** The largest request body the page's routes read: a sign-in's JSON. */
const MAX_PAGE_BODY_BYTES = 16 * 1024;

export type Handler = (req: Request & { params: Record<string, string> }) => Response | Promise<Response>;
/** A route: one handler for every method, or one per method. */
export type Route = Handler | Partial<Record<string, Handler>>;

export interface GuardOptions {
  scheme: "http" | "https";
  /** The names and addresses the control plane serves as (loopback is always accepted). */
  names: readonly string[];
}

function withHeaders(res: Response): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.headers.set(k, v);
  return res;
}

/** One route, guarded: refused requests never reach it, and every answer carries the headers. */
export function guard(route: Route, opts: GuardOptions): Handler {
  return async (req) => {
    const refusal = refuseWebRequest(
      { method: req.method, host: req.headers.get("host"), origin: req.headers.get("origin"), fetchSite: req.headers.get("sec-fetch-site"), contentType: req.headers.get("content-type") },
      opts.scheme,
      opts.names,
    );
    if (refusal) return withHeaders(Response.json({ error: refusal.error }, { status: refusal.status, headers: { "cache-control": "no-store" } }));
    // The listener takes the HTTP API's 4 MiB requests; the page sends at most a sign-in's token.
    if (Number(req.headers.get("content-length") ?? 0) > MAX_PAGE_BODY_BYTES || req.headers.has("transfer-encoding")) {
      return withHeaders(Response.json({ error: `body: expected at most ${MAX_PAGE_BODY_BYTES} bytes with a Content-Length` }, { status: 413, headers: { "cache-control": "no-store" } }));
    }
    const handler = typeof route === "function" ? route : (route[req.method] ?? (req.method === "HEAD" ? route.GET : undefined));
    if (!handler) {
      const allow = Object.keys(route).join(", ");
      return withHeaders(Response.json({ error: `method: expected ${allow}, got ${req.method}` }, { status: 405, headers: { allow, "cache-control": "no-store" } }));
    }
    return withHeaders(await handler(req));
  };
}

/** Every route of a table, guarded. */
export function guardAll(routes: Record<string, Route>, opts: GuardOptions): Record<string, Handler> {
  return Object.fromEntries(Object.entries(routes).map(([path, route]) => [path, guard(route, opts)]));
}
