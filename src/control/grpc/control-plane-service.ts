/**
 * The ControlPlane service, put together from its handlers by resource: workloads, nodes,
 * rollouts (resources.ts is what they share: look up, decide, render), endpoints, identities,
 * watch, snapshots, logs and exec; and the roll of control planes. They validate, submit commands
 * to the writer and await the committed decision; reads come from the writer's in-memory view
 * between turns. On a standby the same handlers read its follower's state, and `submit` refuses
 * (server.ts); with no agent streams there, Logs and Exec are left out.
 */
import type { ControlPlaneRow } from "../../core/ha/lease.js";
import type { Policy } from "../../core/reconcile/reconcile.js";
import { type ControlPlaneServer, ControlPlaneRole } from "../../gen/tessera/v1/control_plane.js";
import type { Tokens } from "../security/tokens.js";
import type { EventHistory } from "../store/store.js";
import type { EndpointsHub } from "../writer/endpoints-hub.js";
import type { WatchHub } from "../writer/watch-hub.js";
import type { CommandPort } from "../writer/writer.js";
import type { AgentGateway } from "./agent-gateway.js";
import { createEndpointsHandlers } from "./endpoints-service.js";
import { createExecHandler } from "./exec-service.js";
import { createIdentityHandlers } from "./identity-service.js";
import { createLogsHandler } from "./logs-service.js";
import { createNodesHandlers } from "./nodes-service.js";
import { createResources } from "./resources.js";
import { createRolloutsHandlers } from "./rollouts-service.js";
import { createRpc, type RpcDeps } from "./rpc.js";
import { createSecretsHandlers } from "./secrets-service.js";
import type { ClusterSealing } from "../security/cluster-keys.js";
import { createSnapshotHandler } from "./snapshot-service.js";
import { createWatchHandler } from "./watch-service.js";
import { createWorkloadsHandlers } from "./workloads-service.js";

export interface ServiceDeps extends RpcDeps {
  writer: CommandPort;
  history: EventHistory;
  /** The agents' streams; none on a standby (Logs and Exec need them: they go to the leader). */
  gateway?: AgentGateway;
  hub: WatchHub;
  endpoints: EndpointsHub;
  policy: Policy;
  /** Mints, lists and revokes tokens (identity-service.ts); absent when security is off. */
  tokens?: Tokens;
  /** Takes a snapshot of the store (SaveSnapshot), the leader's only: a standby has no handlers of a term. */
  snapshot?: () => Promise<{ header: Uint8Array; parts: Uint8Array[] }>;
  /** Seals secrets under the cluster key, and keeps its generations; absent on PostgreSQL with --insecure. */
  sealing?: ClusterSealing;
  /** The control planes on this one's database (ListControlPlanes). */
  controlPlanes: () => Promise<ControlPlaneRow[]>;
}

const WIRE_ROLES = { leader: ControlPlaneRole.CONTROL_PLANE_ROLE_LEADER, standby: ControlPlaneRole.CONTROL_PLANE_ROLE_STANDBY, gone: ControlPlaneRole.CONTROL_PLANE_ROLE_GONE } as const;

/** Every handler; Logs and Exec only with the agents' streams. */
export type ControlPlaneHandlers = { [M in keyof ControlPlaneServer as M extends "logs" | "exec" ? never : M]: ControlPlaneServer[M] } & Partial<Pick<ControlPlaneServer, "logs" | "exec">>;

export function createControlPlaneService(deps: ServiceDeps): ControlPlaneHandlers {
  const { writer, history, gateway, hub, policy, log } = deps;
  const rpc = createRpc(deps);
  const r = createResources(writer, gateway);
  return {
    ...createWorkloadsHandlers(rpc, r, history, policy),
    ...createNodesHandlers(rpc, r, history),
    ...createRolloutsHandlers(rpc, r, history),
    ...createEndpointsHandlers(rpc, writer, deps.endpoints),
    ...createIdentityHandlers(rpc, writer, deps.tokens),
    ...createSecretsHandlers(rpc, writer, deps.sealing),
    watch: createWatchHandler(rpc, hub, history),
    saveSnapshot: createSnapshotHandler(rpc, deps.snapshot),
    ...(gateway ? { exec: createExecHandler(rpc, writer, gateway), logs: createLogsHandler(rpc, { state: r.state, history, gateway, log, workloadNamed: r.workloadNamed, instancesOf: r.instancesOf }) } : {}),

    listControlPlanes: rpc.unary("ListControlPlanes", async () => ({
      controlPlanes: (await deps.controlPlanes()).map((row) => ({
        id: row.id,
        address: row.address,
        role: WIRE_ROLES[row.role],
        epoch: row.epoch,
        lastRenewal: row.lastRenewal > 0 ? new Date(row.lastRenewal) : undefined,
        behind: row.behind,
      })),
    })),
  };
}
