/** Which requests the web page's listener serves: loopback and served names in Host, and a change only from the page itself with a JSON body. */
import { expect, test } from "bun:test";
import { hostServed, isLoopback, isLoopbackHost } from "../../src/core/ha/listen-address.js";
import { refuseWebRequest, type WebRequest } from "../../src/core/access/web-request.js";

test.each(["127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "localhost", "LOCALHOST", "localhost."])("%s is loopback", (host) => {
  expect(isLoopbackHost(host)).toBe(true);
});

test.each(["127.evil.example", "127.0.0.1.evil.example", "127.0.0", "127.0.0.256", "128.0.0.1", "0.0.0.0", "::", "localhost.evil.example", "evil-localhost", ""])("%s is not loopback", (host) => {
  expect(isLoopbackHost(host)).toBe(false);
});

test("a listen address on a name that only starts like loopback is not loopback", () => {
  expect(isLoopback("127.evil.example:7701")).toBe(false);
  expect(isLoopback("127.0.0.1:7701")).toBe(true);
  expect(isLoopback("[::1]:7701")).toBe(true);
});

const names = ["cp.example.internal", "10.0.0.5"];
test.each([
  ["127.0.0.1:7701", true],
  ["localhost:7701", true],
  ["[::1]:7701", true],
  ["cp.example.internal:7701", true],
  ["CP.Example.Internal", true],
  ["10.0.0.5:7701", true],
  ["evil.example:7701", false],
  ["127.evil.example:7701", false],
  ["cp.example.internal.evil.example", false],
  ["10.0.0.5@evil.example", false],
  ["", false],
  [null, false],
] as const)("Host %p served: %p", (host, served) => {
  expect(hostServed(host, names)).toBe(served);
});

const page: WebRequest = { method: "POST", host: "127.0.0.1:7701", origin: "http://127.0.0.1:7701", fetchSite: "same-origin", contentType: "application/json" };
test.each<[string, Partial<WebRequest>, 403 | 415 | undefined]>([
  ["the page's own POST", {}, undefined],
  ["a JSON type with a charset", { contentType: "application/json; charset=utf-8" }, undefined],
  ["a client that sends no Sec-Fetch-Site but the page's Origin", { fetchSite: null }, undefined],
  ["a GET from anywhere on a served Host", { method: "GET", origin: "http://evil.example", fetchSite: "cross-site", contentType: null }, undefined],
  ["a GET on a rebound name", { method: "GET", host: "evil.example:7701" }, 403],
  ["a POST on a rebound name", { host: "evil.example:7701", origin: "http://evil.example:7701" }, 403],
  ["a POST from another port of this host", { origin: "http://127.0.0.1:8080", fetchSite: "same-site" }, 403],
  ["a POST whose Sec-Fetch-Site is cross-site", { fetchSite: "cross-site" }, 403],
  ["a POST without Origin", { origin: null, fetchSite: null }, 403],
  ["a POST from the https origin to http", { origin: "https://127.0.0.1:7701" }, 403],
  ["a text/plain POST (a form)", { contentType: "text/plain" }, 415],
  ["a POST without a type", { contentType: null }, 415],
  ["a DELETE from another origin", { method: "DELETE", origin: "http://evil.example" }, 403],
])("%s: %p", (_what, change, status) => {
  expect(refuseWebRequest({ ...page, ...change }, "http", names)?.status).toBe(status);
});

test("a refusal names the header and what was expected", () => {
  expect(refuseWebRequest({ ...page, origin: "http://evil.example" }, "http", names)?.error).toBe('Origin: expected http://127.0.0.1:7701 for a POST, got "http://evil.example"');
  expect(refuseWebRequest({ ...page, contentType: "text/plain" }, "http", names)?.error).toBe('Content-Type: expected application/json for a POST, got "text/plain"');
});
