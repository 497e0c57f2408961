/**
 * Endpoints: where each port of each running copy answers, and whether the copy is Ready. PURE.
 * The endpoints API, its watch and the agents' DNS answers are all read from this one function,
 * so they agree on what a workload's endpoints are.
 */
import type { ClusterView, Instance } from "../model/cluster-state.js";
import { isReady } from "../model/cluster-status.js";
import type { PortProtocol } from "../model/ports.js";

export interface Endpoint {
  workload: string;
  /** Instance id. */
  instance: string;
  /** Stable instance name. */
  name: string;
  node: string;
  /** The node's advertised address. */
  address: string;
  portName: string;
  hostPort: number;
  protocol: PortProtocol;
  ready: boolean;
}

/** A copy is an endpoint while it runs and is wanted: one being stopped is leaving already. */
function serves(inst: Readonly<Instance>): boolean {
  return inst.state === "running" && inst.desired === "run" && inst.node !== null && inst.ports.length > 0;
}

/**
 * The endpoints of one workload, or of all when `workload` is undefined, sorted by workload,
 * instance name, port name and instance id (a replacement and its predecessor may both run).
 */
export function endpointsOf(view: ClusterView, workload?: string): Endpoint[] {
  const ids = workload === undefined ? view.instances.keys() : (view.instancesByWorkload.get(workload) ?? new Set<string>()).values();
  const out: Endpoint[] = [];
  for (const id of ids) {
    const inst = view.instances.get(id)!;
    if (!serves(inst)) continue;
    const address = view.nodes.get(inst.node!)?.ports.address ?? "";
    if (address === "") continue;
    const ready = isReady(inst);
    for (const p of inst.ports) {
      out.push({ workload: inst.workload, instance: inst.id, name: inst.name, node: inst.node!, address, portName: p.name, hostPort: p.hostPort, protocol: p.protocol, ready });
    }
  }
  const key = (e: Endpoint) => [e.workload, e.name, e.portName, e.instance];
  return out.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let k = 0; k < ka.length; k++) if (ka[k] !== kb[k]) return ka[k]! < kb[k]! ? -1 : 1;
    return 0;
  });
}
