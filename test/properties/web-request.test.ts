/**
 * Invariant 32 (ARCHITECTURE.md) over random requests (fast-check, fixed printed seed): a
 * request the web page's listener lets through names this control plane in its Host, and one
 * that changes something also comes from the page's own origin with a JSON body.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { refuseWebRequest, type WebRequest } from "../../src/core/access/web-request.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261127);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 100);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const NAMES = ["cp.example.internal", "10.0.0.5"];
/** The oracle's own list of what is this control plane: written out, not parsed. */
const SERVED = new Set(["127.0.0.1", "127.0.0.2", "localhost", "[::1]", "cp.example.internal", "10.0.0.5"]);

const hostname = fc.constantFrom("127.0.0.1", "127.0.0.2", "localhost", "[::1]", "cp.example.internal", "10.0.0.5", "evil.example", "127.evil.example", "localhost.evil.example", "10.0.0.5.evil.example", "");
const host = fc.oneof(fc.constant(null), fc.tuple(hostname, fc.constantFrom("", ":7701", ":80")).map(([h, p]) => h + p), fc.string({ maxLength: 30 }));
const request = fc.record({
  method: fc.constantFrom("GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"),
  host,
  origin: fc.oneof(fc.constant(null), fc.constant("same"), fc.constantFrom("http://evil.example", "null", "https://127.0.0.1:7701", "http://127.0.0.1:1"), fc.string({ maxLength: 30 })),
  fetchSite: fc.constantFrom(null, "same-origin", "same-site", "cross-site", "none"),
  contentType: fc.constantFrom(null, "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/jsonx"),
});

test("invariant 32: what the web listener lets through names it in Host; a change also comes from its page with JSON", () => {
  fc.assert(
    fc.property(request, (r) => {
      const req: WebRequest = { ...r, origin: r.origin === "same" ? `http://${r.host ?? ""}` : r.origin };
      const allowed = refuseWebRequest(req, "http", NAMES) === undefined;
      const named = req.host !== null && SERVED.has(req.host.replace(/:\d+$/, ""));
      const safe = req.method === "GET" || req.method === "HEAD";
      const fromPage = req.origin === `http://${req.host}` && (req.fetchSite === null || req.fetchSite === "same-origin") && /^application\/json(;|$)/.test(req.contentType ?? "");
      expect(allowed).toBe(named && (safe || fromPage));
    }),
    { seed: SEED, numRuns: RUNS * 10, includeErrorInReport: true },
  );
});
