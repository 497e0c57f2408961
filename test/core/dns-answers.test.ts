/** The agents' DNS answers, name by name, from a fixed set of endpoints. */
import { expect, test } from "bun:test";
import { answerDns } from "../../src/core/views/dns-answers.js";
import type { Endpoint } from "../../src/core/views/endpoints.js";

const ep = (name: string, address: string, hostPort: number, ready: boolean, portName = "http", protocol: "tcp" | "udp" = "tcp", seq = 1): Endpoint => ({
  workload: name.slice(0, name.lastIndexOf("-")),
  instance: `${name}.${seq}`,
  name,
  node: "a",
  address,
  portName,
  hostPort,
  protocol,
  ready,
});
const WEB = [
  ep("web-0", "10.0.0.1", 20000, true),
  ep("web-0", "10.0.0.1", 20001, true, "dns", "udp"),
  ep("web-1", "10.0.0.1", 20002, true),
  ep("web-2", "10.0.0.2", 20000, false),
  ep("web-3", "10.0.0.3", 20000, true),
];
/**
 * Two copies of one replica at once (a surge, a held canary, a drain): p6-0's old copy (id
 * p6-0.3) and its replacement (p6-0.8) on another host and port; p6-1's replacement (p6-1.9)
 * not Ready yet.
 */
const P6 = [
  ep("p6-0", "10.0.0.1", 20001, true, "http", "tcp", 3),
  ep("p6-0", "10.0.0.2", 22000, true, "http", "tcp", 8),
  ep("p6-1", "10.0.0.1", 20002, true, "http", "tcp", 4),
  ep("p6-1", "10.0.0.2", 22001, false, "http", "tcp", 9),
];
const lookup = (w: string) => (w === "web" ? WEB : w === "p6" ? P6 : w === "idle" ? [ep("idle-0", "10.0.0.4", 20000, false)] : []);
const A = (name: string, data: string) => ({ name, type: "A", ttl: 5, data });
const SRV = (name: string, port: number, target: string) => ({ name, type: "SRV", ttl: 5, data: { priority: 0, weight: 1, port, target } });

test.each([
  ["web.tessera.", "A", "NOERROR", [A("web.tessera", "10.0.0.1"), A("web.tessera", "10.0.0.3")], []],
  ["WEB.Tessera", "A", "NOERROR", [A("WEB.Tessera", "10.0.0.1"), A("WEB.Tessera", "10.0.0.3")], []],
  ["web.tessera", "AAAA", "NOERROR", [], []],
  ["idle.tessera", "A", "NOERROR", [], []],
  ["web-1.web.tessera", "A", "NOERROR", [A("web-1.web.tessera", "10.0.0.1")], []],
  ["web-1-1.web.tessera", "A", "NOERROR", [A("web-1-1.web.tessera", "10.0.0.1")], []],
  ["web-2.web.tessera", "A", "NOERROR", [], []],
  ["web-2-1.web.tessera", "A", "NOERROR", [], []],
  ["web-9.web.tessera", "A", "NXDOMAIN", [], []],
  ["web-1-2.web.tessera", "A", "NXDOMAIN", [], []],
  [
    "_http._tcp.web.tessera",
    "SRV",
    "NOERROR",
    [SRV("_http._tcp.web.tessera", 20000, "web-0-1.web.tessera"), SRV("_http._tcp.web.tessera", 20002, "web-1-1.web.tessera"), SRV("_http._tcp.web.tessera", 20000, "web-3-1.web.tessera")],
    [A("web-0-1.web.tessera", "10.0.0.1"), A("web-1-1.web.tessera", "10.0.0.1"), A("web-3-1.web.tessera", "10.0.0.3")],
  ],
  ["_dns._udp.web.tessera", "SRV", "NOERROR", [SRV("_dns._udp.web.tessera", 20001, "web-0-1.web.tessera")], [A("web-0-1.web.tessera", "10.0.0.1")]],
  // Each copy its own target, whose A record is that copy's host only.
  [
    "_http._tcp.p6.tessera",
    "SRV",
    "NOERROR",
    [SRV("_http._tcp.p6.tessera", 20001, "p6-0-3.p6.tessera"), SRV("_http._tcp.p6.tessera", 22000, "p6-0-8.p6.tessera"), SRV("_http._tcp.p6.tessera", 20002, "p6-1-4.p6.tessera")],
    [A("p6-0-3.p6.tessera", "10.0.0.1"), A("p6-0-8.p6.tessera", "10.0.0.2"), A("p6-1-4.p6.tessera", "10.0.0.1")],
  ],
  ["p6-0-3.p6.tessera", "A", "NOERROR", [A("p6-0-3.p6.tessera", "10.0.0.1")], []],
  ["p6-0-8.p6.tessera", "A", "NOERROR", [A("p6-0-8.p6.tessera", "10.0.0.2")], []],
  ["p6-1-9.p6.tessera", "A", "NOERROR", [], []],
  // The replica's name: its newest Ready copy only (the replacement once Ready, else the one it replaces).
  ["p6-0.p6.tessera", "A", "NOERROR", [A("p6-0.p6.tessera", "10.0.0.2")], []],
  ["p6-1.p6.tessera", "A", "NOERROR", [A("p6-1.p6.tessera", "10.0.0.1")], []],
  ["p6.tessera", "A", "NOERROR", [A("p6.tessera", "10.0.0.1"), A("p6.tessera", "10.0.0.2")], []],
  ["_http._tcp.web.tessera", "A", "NOERROR", [], []],
  ["_dns._tcp.web.tessera", "SRV", "NXDOMAIN", [], []],
  ["_http._sctp.web.tessera", "SRV", "NXDOMAIN", [], []],
  ["http._tcp.web.tessera", "SRV", "NXDOMAIN", [], []],
  ["a.b.c.web.tessera", "A", "NXDOMAIN", [], []],
  ["nothing.tessera", "A", "NXDOMAIN", [], []],
  ["tessera.", "A", "NOERROR", [], []],
  ["example.com", "A", "REFUSED", [], []],
  ["web.tessera.example.com", "A", "REFUSED", [], []],
])("%s %s → %s", (name, type, rcode, answers, additionals) => {
  expect(answerDns({ name, type }, lookup)).toEqual({ rcode, answers, additionals } as never);
});
