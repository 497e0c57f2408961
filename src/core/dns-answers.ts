/**
 * What the agents' DNS answers for a question, from the endpoints it holds. PURE: the socket
 * and the wire encoding (dns-packet) are the agent's (src/agent/dns-server.ts).
 *
 *   <workload>.tessera.                 A    the addresses of its Ready copies (distinct)
 *   <instance-name>.<workload>.tessera.  A    the address of that copy, while Ready
 *   _<port>._<tcp|udp>.<workload>.tessera. SRV  one per Ready copy: 0 1 <host port> <instance-name>.<workload>.tessera.
 *                                            (with the targets' A records as additionals)
 * A name that exists but has nothing Ready, or is asked another type, gets no records
 * (NOERROR); a name under tessera. that does not exist gets NXDOMAIN; any other, REFUSED.
 */
import type { Endpoint } from "./endpoints.js";

export const DNS_ZONE = "tessera";
/** Short: a copy that stops being Ready leaves resolvers' caches within seconds. */
export const DNS_TTL_S = 5;

export type DnsRecord =
  | { name: string; type: "A"; ttl: number; data: string }
  | { name: string; type: "SRV"; ttl: number; data: { priority: number; weight: number; port: number; target: string } };

export interface DnsReply {
  rcode: "NOERROR" | "NXDOMAIN" | "REFUSED";
  answers: DnsRecord[];
  additionals: DnsRecord[];
}

const a = (name: string, address: string): DnsRecord => ({ name, type: "A", ttl: DNS_TTL_S, data: address });

/** Distinct A records, in order of first appearance. */
function aRecords(name: string, endpoints: readonly Endpoint[]): DnsRecord[] {
  return [...new Set(endpoints.map((e) => e.address))].map((address) => a(name, address));
}

/** `endpointsOf` gives a workload's endpoints (empty for one without any). */
export function answerDns(question: { name: string; type: string }, endpointsOf: (workload: string) => readonly Endpoint[]): DnsReply {
  // DNS names are case-insensitive; answers echo the name as asked.
  const asked = question.name.replace(/\.$/, "");
  const labels = asked.toLowerCase().split(".");
  if (labels.pop() !== DNS_ZONE) return { rcode: "REFUSED", answers: [], additionals: [] };
  const nxdomain: DnsReply = { rcode: "NXDOMAIN", answers: [], additionals: [] };
  const reply = (exists: boolean, answers: DnsRecord[], additionals: DnsRecord[] = []): DnsReply => (exists ? { rcode: "NOERROR", answers, additionals } : nxdomain);
  if (labels.length === 0 || labels[0] === "") return reply(true, []);
  const workload = labels[labels.length - 1]!;
  const all = endpointsOf(workload);
  const ready = all.filter((e) => e.ready);
  if (labels.length === 1) return reply(all.length > 0, question.type === "A" ? aRecords(asked, ready) : []);
  if (labels.length === 2) {
    const copy = all.filter((e) => e.name === labels[0]);
    return reply(copy.length > 0, question.type === "A" ? aRecords(asked, copy.filter((e) => e.ready)) : []);
  }
  const [service, proto] = labels;
  if (labels.length !== 3 || !service!.startsWith("_") || !(proto === "_tcp" || proto === "_udp")) return nxdomain;
  const serving = all.filter((e) => `_${e.portName}` === service && `_${e.protocol}` === proto);
  if (question.type !== "SRV") return reply(serving.length > 0, []);
  const targets = serving.filter((e) => e.ready).map((e) => ({ e, target: `${e.name}.${workload}.${DNS_ZONE}` }));
  const answers: DnsRecord[] = targets.map(({ e, target }) => ({ name: asked, type: "SRV", ttl: DNS_TTL_S, data: { priority: 0, weight: 1, port: e.hostPort, target } }));
  const additionals = [...new Map(targets.map(({ e, target }) => [`${target} ${e.address}`, a(target, e.address)])).values()];
  return reply(serving.length > 0, answers, additionals);
}
