/**
 * The agent's port flags: --advertise-address, --port-range and --reserved-ports, read into
 * what its hello advertises. Refusals name the flag; the control plane checks the same values
 * again (ports.ts validateNodePorts), since a hello may come from any agent.
 */
import { UsageError } from "clipanion";
import { describeRejection } from "../src/core/model/rejections.js";
import { DEFAULT_PORT_RANGE, type NodePorts, type PortRange, validateNodePorts } from "../src/core/model/ports.js";
import { primaryAddress } from "../src/shell/host-addresses.js";

/** `8080` or `20000-32000`. */
function parseRange(text: string, flag: string): PortRange {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  const range = m ? { from: Number(m[1]), to: Number(m[2] ?? m[1]) } : undefined;
  if (!range || range.from < 1 || range.to > 65535 || range.from > range.to) throw new UsageError(`${flag}: expected a port or a range such as 20000-32000 (1-65535), got "${text}"`);
  return range;
}

/** Reads the flags (each value may list several, comma-separated: `22,8000-8100`). */
export function parseNodePorts(address: string | undefined, range: string | undefined, reserved: string[]): NodePorts {
  const ports: NodePorts = {
    address: address ?? primaryAddress(),
    range: range === undefined ? DEFAULT_PORT_RANGE : parseRange(range, "--port-range"),
    reserved: reserved.flatMap((r) => r.split(",").filter((s) => s.trim() !== "").map((s) => parseRange(s, "--reserved-ports"))),
  };
  if (ports.address === "") throw new UsageError("--advertise-address: expected an IPv4 address, got an empty one");
  const problem = validateNodePorts(ports);
  if (problem) throw new UsageError(describeRejection(problem).replace("hello.advertise_address", "--advertise-address"));
  return ports;
}
