/** The agents' DNS answers, name by name, from a fixed set of endpoints. */
import { expect, test } from "bun:test";
import { answerDns } from "../../src/core/dns-answers.js";
import type { Endpoint } from "../../src/core/endpoints.js";

const ep = (name: string, address: string, hostPort: number, ready: boolean, portName = "http", protocol: "tcp" | "udp" = "tcp"): Endpoint => ({
  workload: "web",
  instance: `${name}.1`,
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
const lookup = (w: string) => (w === "web" ? WEB : w === "idle" ? [ep("idle-0", "10.0.0.4", 20000, false)] : []);
const A = (name: string, data: string) => ({ name, type: "A", ttl: 5, data });
const SRV = (name: string, port: number, target: string) => ({ name, type: "SRV", ttl: 5, data: { priority: 0, weight: 1, port, target } });

test.each([
  ["web.tessera.", "A", "NOERROR", [A("web.tessera", "10.0.0.1"), A("web.tessera", "10.0.0.3")], []],
  ["WEB.Tessera", "A", "NOERROR", [A("WEB.Tessera", "10.0.0.1"), A("WEB.Tessera", "10.0.0.3")], []],
  ["web.tessera", "AAAA", "NOERROR", [], []],
  ["idle.tessera", "A", "NOERROR", [], []],
  ["web-1.web.tessera", "A", "NOERROR", [A("web-1.web.tessera", "10.0.0.1")], []],
  ["web-2.web.tessera", "A", "NOERROR", [], []],
  ["web-9.web.tessera", "A", "NXDOMAIN", [], []],
  [
    "_http._tcp.web.tessera",
    "SRV",
    "NOERROR",
    [SRV("_http._tcp.web.tessera", 20000, "web-0.web.tessera"), SRV("_http._tcp.web.tessera", 20002, "web-1.web.tessera"), SRV("_http._tcp.web.tessera", 20000, "web-3.web.tessera")],
    [A("web-0.web.tessera", "10.0.0.1"), A("web-1.web.tessera", "10.0.0.1"), A("web-3.web.tessera", "10.0.0.3")],
  ],
  ["_dns._udp.web.tessera", "SRV", "NOERROR", [SRV("_dns._udp.web.tessera", 20001, "web-0.web.tessera")], [A("web-0.web.tessera", "10.0.0.1")]],
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
