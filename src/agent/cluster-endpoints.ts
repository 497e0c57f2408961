/**
 * The cluster's endpoints as this agent holds them, kept from the control plane's
 * EndpointsUpdates (a whole table after each hello, then differences): what its DNS answers
 * and what its copies' template configs name. Shell: the table itself is the core's.
 */
import { EndpointTable } from "../core/views/endpoint-table.js";
import type { Endpoint } from "../core/views/endpoints.js";
import type { EndpointsUpdate } from "../gen/tessera/v1/agent_gateway.js";
import type { Logger } from "../shell/logger.js";

export class ClusterEndpoints {
  private readonly table = new EndpointTable();

  constructor(private readonly log: Logger) {}

  /** Applies what the control plane sent. */
  apply(u: EndpointsUpdate): void {
    const set: Endpoint[] = [];
    for (const e of u.set) {
      // A newer control plane's protocol this agent cannot name in an SRV owner.
      if (e.protocol !== "tcp" && e.protocol !== "udp") {
        this.log.warn("endpoint skipped", { instance: e.instance, details: `endpoints.set.protocol: expected tcp or udp, got "${e.protocol}"` });
        continue;
      }
      set.push({ ...e, protocol: e.protocol });
    }
    this.table.apply({ full: u.full, set, removed: u.removed });
  }

  /** A workload's endpoints, in no particular order (empty for one without any). */
  readonly of = (workload: string): Endpoint[] => this.table.list(workload);
}
