/**
 * Ports as a placement resource: what a spec asks for, what a node offers, and what a copy was
 * given. PURE. The pool that hands ports out during a pass is port-pool.ts; the environment a
 * copy learns them from is port-env.ts.
 */
import type { Hello } from "../../gen/tessera/v1/agent_gateway.js";
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { invalidArgument, type Rejection } from "./rejections.js";
import { isDnsLabel } from "./dns-label.js";

export type PortProtocol = "tcp" | "udp";
export const PORT_PROTOCOLS: readonly PortProtocol[] = ["tcp", "udp"];

/** One entry of `spec.ports`, defaults applied. */
export interface PortRequest {
  name: string;
  /** The fixed host port, or undefined for a dynamic one. */
  static: number | undefined;
  /** The container port (`to`) of an image workload; undefined for processes, or for the host port's own number. */
  to: number | undefined;
  protocol: PortProtocol;
}

/** A host port a copy holds on its node, recorded in its `place` event. */
export interface AssignedPort {
  name: string;
  hostPort: number;
  protocol: PortProtocol;
  /** Where an image workload's container listens; 0 for processes. */
  containerPort: number;
}

/** Inclusive. */
export interface PortRange {
  from: number;
  to: number;
}

/** What an agent advertises about its ports (its hello). */
export interface NodePorts {
  /** Where copies on the node are reached; "" from an agent that predates ports: it offers none. */
  address: string;
  range: PortRange;
  reserved: PortRange[];
}

export const DEFAULT_PORT_RANGE: PortRange = { from: 20000, to: 32000 };

/** A node that advertised nothing (an older agent, or an old record): no port fits there. */
export const NO_PORTS: NodePorts = { address: "", range: { from: 1, to: 0 }, reserved: [] };

export function protocolOf(wire: string): PortProtocol {
  return wire === "udp" ? "udp" : "tcp";
}

/** The spec's port requests, in order. `to` means something only for images. */
export function portRequests(spec: WorkloadSpec): PortRequest[] {
  const image = spec.image !== "";
  return (spec.ports ?? []).map((p) => ({ name: p.name, static: p.static, to: image ? p.to : undefined, protocol: protocolOf(p.protocol) }));
}

/**
 * What feasibility depends on in a spec's ports, as one string: the static ports and how many
 * dynamic ones per protocol (names and `to` do not matter). "" when it asks for none.
 */
export function portShape(requests: readonly PortRequest[]): string {
  if (requests.length === 0) return "";
  const statics: string[] = [];
  let tcp = 0;
  let udp = 0;
  for (const r of requests) {
    if (r.static !== undefined) statics.push(portKey(r.protocol, r.static));
    else if (r.protocol === "udp") udp++;
    else tcp++;
  }
  return `${statics.sort().join(",")};${tcp},${udp}`;
}

/** `udp/53`: a port and protocol, as held on a node. */
export function portKey(protocol: PortProtocol, port: number): string {
  return `${protocol}/${port}`;
}

/** `8080` or `5353/udp`, as reasons and tables show a port. */
export function describePort(protocol: PortProtocol, port: number): string {
  return protocol === "tcp" ? String(port) : `${port}/udp`;
}

const inPortRange = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/** Problems with `spec.ports`, each naming its field. */
export function validatePorts(spec: WorkloadSpec, at = "workload.spec.ports"): Rejection[] {
  const problems: Rejection[] = [];
  const names = new Set<string>();
  const statics = new Map<string, number>();
  (spec.ports ?? []).forEach((p, i) => {
    const field = `${at}[${i}]`;
    if (!isDnsLabel(p.name)) problems.push(invalidArgument(`${field}.name`, `a DNS label (lower-case letters, digits, '-'), got "${p.name}"`));
    else if (names.has(p.name)) problems.push(invalidArgument(`${field}.name`, `a name not used by another port, got "${p.name}" twice`));
    names.add(p.name);
    if (p.protocol !== "" && !(PORT_PROTOCOLS as readonly string[]).includes(p.protocol)) problems.push(invalidArgument(`${field}.protocol`, `tcp or udp, got "${p.protocol}"`));
    if (p.static !== undefined) {
      if (!inPortRange(p.static)) problems.push(invalidArgument(`${field}.static`, `1-65535, got ${p.static}`));
      else {
        const key = portKey(protocolOf(p.protocol), p.static);
        const other = statics.get(key);
        if (other !== undefined) problems.push(invalidArgument(`${field}.static`, `a host port not taken by ports[${other}], got ${p.static} again`));
        else statics.set(key, i);
      }
    }
    if (p.to !== undefined) {
      if (spec.image === "") problems.push(invalidArgument(`${field}.to`, "no container port for a process workload (set spec.image, or leave `to` out)"));
      else if (!inPortRange(p.to)) problems.push(invalidArgument(`${field}.to`, `1-65535, got ${p.to}`));
    }
  });
  return problems;
}

/** Problems with what an agent advertises (its hello), each naming the field. */
export function validateNodePorts(ports: NodePorts, at = "hello"): Rejection | undefined {
  if (ports.address === "") return undefined;
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(ports.address) || ports.address.split(".").some((o) => Number(o) > 255))
    return invalidArgument(`${at}.advertise_address`, `an IPv4 address, got "${ports.address}"`);
  const rangeProblem = (r: PortRange, field: string) =>
    !inPortRange(r.from) || !inPortRange(r.to) || r.from > r.to ? invalidArgument(field, `ports from 1 to 65535, from ≤ to, got ${r.from}-${r.to}`) : undefined;
  return rangeProblem(ports.range, `${at}.port_range`) ?? ports.reserved.map((r, i) => rangeProblem(r, `${at}.reserved_ports[${i}]`)).find((p) => p !== undefined);
}

/** A node's ports as its hello carries them. */
export function helloPorts(ports: NodePorts): Pick<Hello, "advertiseAddress" | "portRange" | "reservedPorts"> {
  return { advertiseAddress: ports.address, portRange: ports.range, reservedPorts: ports.reserved };
}

/** A hello's ports as the core keeps them (the range defaults when an agent sends an address without one). */
export function nodePortsOf(hello: Pick<Hello, "advertiseAddress" | "portRange" | "reservedPorts">): NodePorts {
  if (hello.advertiseAddress === "") return NO_PORTS;
  return { address: hello.advertiseAddress, range: hello.portRange ?? DEFAULT_PORT_RANGE, reserved: hello.reservedPorts };
}
