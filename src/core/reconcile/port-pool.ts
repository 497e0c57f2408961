/**
 * The host ports of every node during one reconcile pass: which are held and by whom, whether
 * a copy's requests fit, and the numbers it gets. PURE and deterministic.
 *
 * Dynamic ports are the lowest free ones of the node's range. Lowest-free depends only on what
 * the node holds, so replaying a log decides the same numbers; a rotating cursor would do so
 * too, but would have to be carried between passes (and recorded) to survive a restart.
 * Copies on a node hold their ports while they hold the node (holdsNode): the same rule as
 * CPU and memory, so a failed copy, whose process is gone, frees its ports at once.
 */
import type { NodeRecord } from "../model/cluster-state.js";
import { type AssignedPort, describePort, type PortProtocol, type PortRange, portKey, type PortRequest } from "../model/ports.js";

/** What one node's ports look like this pass; made the first time a copy with ports looks at it. */
interface NodePortUse {
  /** portKey → the name of the copy holding it. */
  held: Map<string, string>;
  /** Free ports of the range per protocol (range minus reserved minus held). */
  free: Record<PortProtocol, number>;
  /** No port below this is free in the range, per protocol: the scan for the lowest starts here. */
  next: Record<PortProtocol, number>;
}

function isReserved(reserved: readonly PortRange[], port: number): boolean {
  for (const r of reserved) if (port >= r.from && port <= r.to) return true;
  return false;
}

/** Ports of `range` that `reserved` covers, overlaps counted once. */
function reservedIn(range: PortRange, reserved: readonly PortRange[]): number {
  let count = 0;
  let upTo = range.from - 1;
  for (const r of [...reserved].sort((a, b) => a.from - b.from)) {
    const from = Math.max(r.from, upTo + 1);
    const to = Math.min(r.to, range.to);
    if (from <= to) count += to - from + 1;
    upTo = Math.max(upTo, to);
  }
  return count;
}

/** A copy holding ports on a node: its name and the ports. */
export interface PortHolding {
  holder: string;
  ports: readonly AssignedPort[];
}

export class PortPool {
  private readonly use: Array<NodePortUse | undefined>;

  constructor(
    private readonly nodes: readonly NodeRecord[],
    /** The copies holding node `i` now, asked the first time a copy with ports looks at it. */
    private readonly holdings: (i: number) => Iterable<PortHolding>,
  ) {
    this.use = new Array(nodes.length);
  }

  private useOf(i: number): NodePortUse {
    let u = this.use[i];
    if (u) return u;
    const { range, reserved } = this.nodes[i]!.ports;
    const size = Math.max(0, range.to - range.from + 1) - reservedIn(range, reserved);
    u = { held: new Map(), free: { tcp: size, udp: size }, next: { tcp: range.from, udp: range.from } };
    this.use[i] = u;
    for (const { holder, ports } of this.holdings(i)) for (const p of ports) this.take(u, i, p.protocol, p.hostPort, holder);
    return u;
  }

  /** Marks a port held, counting it against the range when it lies there. */
  private take(u: NodePortUse, i: number, protocol: PortProtocol, port: number, holder: string): void {
    const key = portKey(protocol, port);
    if (u.held.has(key)) return;
    u.held.set(key, holder);
    const { range, reserved } = this.nodes[i]!.ports;
    if (port >= range.from && port <= range.to && !isReserved(reserved, port)) u.free[protocol]--;
  }

  /**
   * Why node `i` cannot give these ports, or undefined when it can; with `except`, as if the
   * ports copy `except` holds were free (what stopping it first would give back). Runs for
   * every node a copy with ports looks at: it allocates nothing.
   */
  refusal(i: number, requests: readonly PortRequest[], except?: string): string | undefined {
    const node = this.nodes[i]!;
    if (node.ports.address === "") return "advertises no ports (agent without --advertise-address)";
    const u = this.useOf(i);
    const { range, reserved } = node.ports;
    // Dynamic ports needed per protocol; a static port inside the range leaves one dynamic port fewer.
    let tcp = 0;
    let udp = 0;
    for (const r of requests) {
      if (r.static !== undefined) {
        const holder = u.held.get(portKey(r.protocol, r.static));
        if (holder !== undefined && holder !== except) return `port ${describePort(r.protocol, r.static)} taken on ${node.name} by ${holder}`;
        if (isReserved(reserved, r.static)) return `port ${describePort(r.protocol, r.static)} reserved on ${node.name}`;
        if (r.static < range.from || r.static > range.to) continue;
      }
      if (r.protocol === "udp") udp++;
      else tcp++;
    }
    if (tcp <= u.free.tcp && udp <= u.free.udp) return undefined;
    const freed = except === undefined ? undefined : this.heldInRange(u, node, except);
    if (tcp > u.free.tcp + (freed?.tcp ?? 0) || udp > u.free.udp + (freed?.udp ?? 0)) return "short of dynamic ports";
    return undefined;
  }

  /** The ports of the range copy `holder` holds on a node, per protocol. */
  private heldInRange(u: NodePortUse, node: NodeRecord, holder: string): Record<PortProtocol, number> {
    const { range, reserved } = node.ports;
    const held: Record<PortProtocol, number> = { tcp: 0, udp: 0 };
    for (const [key, by] of u.held) {
      if (by !== holder) continue;
      const slash = key.indexOf("/");
      const port = Number(key.slice(slash + 1));
      if (port >= range.from && port <= range.to && !isReserved(reserved, port)) held[key.slice(0, slash) as PortProtocol]++;
    }
    return held;
  }

  /** Gives copy `holder` its ports on node `i` (refusal() said they fit), in request order. */
  assign(i: number, holder: string, requests: readonly PortRequest[], image: boolean): AssignedPort[] {
    const u = this.useOf(i);
    const { range, reserved } = this.nodes[i]!.ports;
    for (const r of requests) if (r.static !== undefined) this.take(u, i, r.protocol, r.static, holder);
    return requests.map((r) => {
      let port = r.static;
      if (port === undefined) {
        port = u.next[r.protocol];
        while (port <= range.to && (u.held.has(portKey(r.protocol, port)) || isReserved(reserved, port))) port++;
        u.next[r.protocol] = port + 1;
        this.take(u, i, r.protocol, port, holder);
      }
      return { name: r.name, hostPort: port, protocol: r.protocol, containerPort: image ? (r.to ?? port) : 0 };
    });
  }
}
