/**
 * The agent's DNS server: answers for `tessera.` from the endpoints the control plane sends
 * (EndpointsUpdate, held by cluster-endpoints.ts), over UDP. Shell: the socket and the wire (dns-packet); what a name
 * resolves to is decided in src/core/views/dns-answers.ts.
 */
import type { udp } from "bun";
import { isIPv6 } from "node:net";
import type { Answer, DecodedPacket, Packet } from "dns-packet";
import { answerDns, type DnsReply } from "../core/views/dns-answers.js";
import type { Endpoint } from "../core/views/endpoints.js";
import type { Logger } from "../shell/logger.js";

/** Response codes (RFC 1035 4.1.1), the low bits of the header's flags. */
const RCODES = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, REFUSED: 5 } as const;
/** A client that does not say (EDNS) how large a UDP answer it takes gets at most this (RFC 1035 4.2.1). */
const PLAIN_UDP_LIMIT = 512;
/** What we offer in EDNS answers: the size recommended to avoid fragmentation (DNS flag day 2020). */
const EDNS_UDP_SIZE = 1232;

/** `host:port` (`[::1]:53` for IPv6); a bad one is refused naming the flag. */
export function parseDnsListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(":");
  const port = Number(listen.slice(at + 1));
  if (at <= 0 || !/^\d+$/.test(listen.slice(at + 1)) || port > 65535) throw new Error(`--dns-listen: expected host:port such as 127.0.0.1:5353, got "${listen}"`);
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ""), port };
}

/**
 * Bun's own UDP socket, not node:dgram: in a minimal compiled binary, dgram and a bound socket
 * cost ~7 MiB of resident memory and Bun.udpSocket ~1.3 MiB (the agent, which loads net and tls
 * for gRPC anyway, measured about the same either way).
 */
type UdpSocket = udp.Socket<"buffer">;

export class DnsServer {
  private socket!: UdpSocket;

  private constructor(private readonly endpointsOf: (workload: string) => readonly Endpoint[]) {}

  /** Listens on host:port (port 0 picks a free one), answering from `endpointsOf`. */
  static async start({ host, port }: { host: string; port: number }, log: Logger, endpointsOf: (workload: string) => readonly Endpoint[]): Promise<DnsServer> {
    const server = new DnsServer(endpointsOf);
    try {
      server.socket = await Bun.udpSocket({
        hostname: host,
        port,
        socket: {
          data: (_socket, msg, fromPort, fromAddress) => server.answer(msg, fromPort, fromAddress),
          // A failed send (the client went away) must not end the agent.
          error: (_socket, err) => log.warn("dns socket error", { error: err.message }),
        },
      });
    } catch (err) {
      throw new Error(`--dns-listen ${host}:${port}: ${(err as Error).message}`);
    }
    // The real port when 0 was asked: tests read it from this line.
    log.info("dns listening", { address: `${isIPv6(host) ? `[${host}]` : host}:${server.socket.port}` });
    return server;
  }

  close(): void {
    this.socket.close();
  }

  /**
   * The wire codec, loaded with the first query: an agent nobody asks (most, most of the time)
   * does not page it in (the binary is built with splitting).
   */
  private wire: Promise<typeof import("dns-packet")> | undefined;

  private answer(msg: Buffer, fromPort: number, fromAddress: string): void {
    this.wire ??= import("dns-packet");
    void this.wire.then((codec) => this.reply(codec, msg, fromPort, fromAddress));
  }

  private reply({ AUTHORITATIVE_ANSWER, decode, encode, RECURSION_DESIRED }: typeof import("dns-packet"), msg: Buffer, fromPort: number, fromAddress: string): void {
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      // Not DNS, or damaged: there is no id to answer to.
      return;
    }
    if (query.type !== "query") return;
    const question = query.questions?.[0];
    const reply: DnsReply | undefined = question && answerDns({ name: question.name, type: question.type }, this.endpointsOf);
    const rcode = reply ? RCODES[reply.rcode] : RCODES.FORMERR;
    const edns = query.additionals?.find((a) => a.type === "OPT");
    const limit = edns && "udpPayloadSize" in edns ? Math.max(PLAIN_UDP_LIMIT, Math.min(edns.udpPayloadSize, EDNS_UDP_SIZE)) : PLAIN_UDP_LIMIT;
    const response: Packet = {
      id: query.id,
      type: "response",
      flags: (reply && reply.rcode !== "REFUSED" ? AUTHORITATIVE_ANSWER : 0) | ((query.flags ?? 0) & RECURSION_DESIRED) | rcode,
      questions: question ? [question] : [],
      answers: (reply?.answers ?? []) as Answer[],
      additionals: [...((reply?.additionals ?? []) as Answer[]), ...(edns ? [{ type: "OPT", name: ".", udpPayloadSize: EDNS_UDP_SIZE } as Answer] : [])],
    };
    // Too large for what the client takes over UDP: fewer records rather than none (as Consul
    // trims), since this server speaks no TCP to send them all. Additionals go first.
    const opt = edns ? response.additionals!.slice(-1) : [];
    let wire = encode(response);
    if (wire.length > limit) response.additionals = opt;
    while ((wire = encode(response)).length > limit && response.answers!.length > 0) response.answers!.pop();
    this.socket.send(wire, fromPort, fromAddress);
  }
}
