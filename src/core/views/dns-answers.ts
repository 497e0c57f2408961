/**
 * What the agents' DNS answers for a question, from the endpoints it holds. PURE: the socket
 * and the wire encoding (dns-packet) are the agent's (src/agent/dns-server.ts).
 *
 *   <workload>.tessera.                  A    the addresses of its Ready copies (distinct)
 *   <copy>.<workload>.tessera.           A    the address of that one copy, while Ready; <copy> is
 *                                             its instance id with a dash for the dot (web-0.7 → web-0-7)
 *   <replica>.<workload>.tessera.        A    the address of the replica's newest Ready copy: during a
 *                                             rollout or a drain, the replacement once it is Ready
 *   _<port>._<tcp|udp>.<workload>.tessera. SRV  one per Ready copy: 0 1 <host port> <copy>.<workload>.tessera.
 *                                            (with the targets' A records as additionals)
 * Every name but the workload's answers for exactly one copy: an old copy and its replacement
 * (which may run on another host, on another port) never share a target (issue 26).
 * A name that exists but has nothing Ready, or is asked another type, gets no records
 * (NOERROR); a name under tessera. that does not exist gets NXDOMAIN; any other, REFUSED.
 */
import { instanceSeq } from "../model/cluster-state.js";
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

/** The DNS label of one copy: its instance id (`web-0.7`), the dot a dash (`web-0-7`), as labels hold no dots. */
export function copyLabel(e: Pick<Endpoint, "name" | "instance">): string {
  return `${e.name}-${instanceSeq(e.instance)}`;
}

/** The endpoints of a replica's newest Ready copy (the highest instance id: ids are handed out in order). */
function newestReady(copies: readonly Endpoint[]): Endpoint[] {
  const ready = copies.filter((e) => e.ready);
  const newest = Math.max(...ready.map((e) => instanceSeq(e.instance)));
  return ready.filter((e) => instanceSeq(e.instance) === newest);
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
    const copy = all.filter((e) => copyLabel(e) === labels[0]);
    if (copy.length > 0) return reply(true, question.type === "A" ? aRecords(asked, copy.filter((e) => e.ready)) : []);
    const replica = all.filter((e) => e.name === labels[0]);
    return reply(replica.length > 0, question.type === "A" ? aRecords(asked, newestReady(replica)) : []);
  }
  const [service, proto] = labels;
  if (labels.length !== 3 || !service!.startsWith("_") || !(proto === "_tcp" || proto === "_udp")) return nxdomain;
  const serving = all.filter((e) => `_${e.portName}` === service && `_${e.protocol}` === proto);
  if (question.type !== "SRV") return reply(serving.length > 0, []);
  const targets = serving.filter((e) => e.ready).map((e) => ({ e, target: `${copyLabel(e)}.${workload}.${DNS_ZONE}` }));
  const answers: DnsRecord[] = targets.map(({ e, target }) => ({ name: asked, type: "SRV", ttl: DNS_TTL_S, data: { priority: 0, weight: 1, port: e.hostPort, target } }));
  const additionals = [...new Map(targets.map(({ e, target }) => [target, a(target, e.address)])).values()];
  return reply(serving.length > 0, answers, additionals);
}
