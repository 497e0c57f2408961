/**
 * The core's names for wire enum values, both ways, in one place for control plane and agent.
 * PURE: the core imports only types from generated code, so the numbers are written out; the
 * `satisfies` clauses make the compiler check them against tessera.v1.
 */
import type { InstanceState as WireInstanceState, NodeHealth as WireNodeHealth } from "../../gen/tessera/v1/types.js";
import type { InstanceState } from "./instance-machine.js";
import type { NodeHealth } from "./node-health.js";

export const INSTANCE_STATE_TO_WIRE = {
  pending: 1 satisfies WireInstanceState.INSTANCE_STATE_PENDING,
  scheduled: 2 satisfies WireInstanceState.INSTANCE_STATE_SCHEDULED,
  provisioning: 3 satisfies WireInstanceState.INSTANCE_STATE_PROVISIONING,
  running: 4 satisfies WireInstanceState.INSTANCE_STATE_RUNNING,
  failed: 5 satisfies WireInstanceState.INSTANCE_STATE_FAILED,
  stopping: 6 satisfies WireInstanceState.INSTANCE_STATE_STOPPING,
  stopped: 7 satisfies WireInstanceState.INSTANCE_STATE_STOPPED,
  lost: 8 satisfies WireInstanceState.INSTANCE_STATE_LOST,
  succeeded: 9 satisfies WireInstanceState.INSTANCE_STATE_SUCCEEDED,
} as const satisfies { [S in InstanceState]: WireInstanceState };

const FROM_WIRE = new Map<number, InstanceState>(Object.entries(INSTANCE_STATE_TO_WIRE).map(([k, v]) => [v, k as InstanceState]));

/** The core state for a wire value, or undefined for UNSPECIFIED and unknown numbers. */
export function instanceStateFromWire(s: WireInstanceState): InstanceState | undefined {
  return FROM_WIRE.get(s);
}

export const NODE_HEALTH_TO_WIRE = {
  ready: 1 satisfies WireNodeHealth.NODE_HEALTH_READY,
  suspect: 2 satisfies WireNodeHealth.NODE_HEALTH_SUSPECT,
  offline: 3 satisfies WireNodeHealth.NODE_HEALTH_OFFLINE,
} as const satisfies { [H in NodeHealth]: WireNodeHealth };
