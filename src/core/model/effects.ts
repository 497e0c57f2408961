/** Effects: what the core asks a shell to do, as data. PURE (types only). */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { AssignedPort } from "./ports.js";

export type Effect =
  /** `hostIp`: the node's advertised address; `ports`: what placement gave the copy there. */
  | { type: "StartInstance"; node: string; instanceId: string; name: string; workload: string; generation: number; spec: WorkloadSpec; ports: AssignedPort[]; hostIp: string }
  | { type: "StopInstance"; node: string; instanceId: string; generation: number; gracePeriodMs: number }
  /**
   * Write the versions `spec` names of what a running copy uses over its files (on_change
   * SIGNAL or NONE), then signal it when `signal`; the agent does nothing when it holds them already.
   */
  | { type: "RefreshSecrets"; node: string; instanceId: string; generation: number; spec: WorkloadSpec; signal: boolean }
  /**
   * End the node's stream: it was declared Offline and must reconnect (hello) to return, or
   * (`removed`) it was removed and its certificate is refused from now on.
   */
  | { type: "DisconnectNode"; node: string; removed?: true };
