/**
 * Which requests the web page's listener serves at all, before any route or credential is
 * looked at. PURE: the shell passes the request's headers.
 *
 * A browser sends the session cookie with any request to this host, whatever page made it, on
 * whatever port (cookies ignore ports, SameSite too). So a request that changes something must
 * show it comes from the page itself: `Sec-Fetch-Site: same-origin` when the browser sends it,
 * an `Origin` equal to the page's, and a JSON body (a cross-site form cannot send one without a
 * CORS preflight, which nothing here answers). Every request must name this control plane in
 * its Host header, so a name rebound to this address (DNS rebinding) reaches nothing.
 */
import { hostServed } from "../ha/listen-address.js";

export interface WebRequest {
  method: string;
  /** The Host, Origin, Sec-Fetch-Site and Content-Type headers; null when absent. */
  host: string | null;
  origin: string | null;
  fetchSite: string | null;
  contentType: string | null;
}

export interface WebRefusal {
  status: 403 | 415;
  error: string;
}

/** Methods that change nothing: the page, its data and its streams. */
const SAFE = new Set(["GET", "HEAD"]);

const hostRefusal = (req: Pick<WebRequest, "host">, names: readonly string[]): WebRefusal | undefined =>
  hostServed(req.host, names) ? undefined : { status: 403, error: `Host: expected a name this control plane serves as (${["loopback", ...names].join(", ")}; more with --advertise), got "${req.host ?? ""}"` };

/** Why a request is refused, or undefined when it may go on to its route. `names` are the names and addresses the control plane serves as. */
export function refuseWebRequest(req: WebRequest, scheme: "http" | "https", names: readonly string[]): WebRefusal | undefined {
  const wrongHost = hostRefusal(req, names);
  if (wrongHost) return wrongHost;
  if (SAFE.has(req.method)) return undefined;
  if (req.fetchSite !== null && req.fetchSite !== "same-origin") return { status: 403, error: `Sec-Fetch-Site: expected same-origin for a ${req.method}, got "${req.fetchSite}"` };
  const own = `${scheme}://${req.host!.toLowerCase()}`;
  if (req.origin?.toLowerCase() !== own) return { status: 403, error: `Origin: expected ${own} for a ${req.method}, got ${req.origin === null ? "none" : `"${req.origin}"`}` };
  const type = req.contentType?.split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") return { status: 415, error: `Content-Type: expected application/json for a ${req.method}, got ${req.contentType === null ? "none" : `"${req.contentType}"`}` };
  return undefined;
}

/**
 * Which requests the HTTP/JSON API (/v1/) serves. Its callers are scripts and tools carrying a
 * bearer token, which a browser never adds by itself; but under --insecure there is no token,
 * so a request a browser sends for a page of another site (a form's POST needs no preflight)
 * is refused, and, as for the page, the Host must name this control plane.
 */
export function refuseApiRequest(req: Pick<WebRequest, "host" | "origin" | "fetchSite">, scheme: "http" | "https", names: readonly string[]): WebRefusal | undefined {
  const wrongHost = hostRefusal(req, names);
  if (wrongHost) return wrongHost;
  if (req.fetchSite !== null && req.fetchSite !== "same-origin" && req.fetchSite !== "none") return { status: 403, error: `Sec-Fetch-Site: the API does not answer pages of other sites, got "${req.fetchSite}"` };
  const own = `${scheme}://${req.host!.toLowerCase()}`;
  if (req.origin !== null && req.origin.toLowerCase() !== own) return { status: 403, error: `Origin: the API does not answer pages of other sites (expected none or ${own}), got "${req.origin}"` };
  return undefined;
}
