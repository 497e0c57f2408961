/**
 * The ControlPlane's rollout handlers: restart, roll back (undo), pause and resume, promote,
 * lift a quarantine, and start a periodic batch's run now. Each looks the workload up, has the writer decide, and renders the workload
 * as it is then (resources.ts). Nothing here decides.
 */
import type { Metadata } from "@grpc/grpc-js";
import type { Command } from "../../core/decide/commands.js";
import type { ControlPlaneServer } from "../../gen/tessera/v1/control_plane.js";
import type { EventHistory } from "../store/store.js";
import { act, type Resources } from "./resources.js";
import { caller, refused, type Rpc } from "./rpc.js";

type RolloutsHandlers = Pick<ControlPlaneServer, "restartWorkload" | "rollbackWorkload" | "pauseRollout" | "promoteRollout" | "liftQuarantine" | "runWorkload">;

export function createRolloutsHandlers(rpc: Rpc, r: Resources, history: EventHistory): RolloutsHandlers {
  /** The workload looked up (and what else `lookUp` checks), `command` decided, the workload as it is now. */
  const workloadAction = <Req extends { name: string }>(method: Command["type"] & Parameters<typeof act>[2], command: (req: Req, metadata: Metadata) => Command | Promise<Command>, lookUp?: (req: Req) => void) =>
    act(rpc, r, method, {
      lookUp: (req: Req) => {
        r.workloadNamed(req.name);
        lookUp?.(req);
      },
      command,
      render: (req) => ({ workload: r.wireWorkload(r.state.workloads.get(req.name)!) }),
    });
  return {
    restartWorkload: workloadAction("RestartWorkload", (req) => ({ type: "RestartWorkload", name: req.name })),

    rollbackWorkload: workloadAction("RollbackWorkload", async (req: { name: string; toRevision: number }) => {
      if (req.toRevision <= 0) return { type: "RollbackWorkload", name: req.name };
      // A revision is a generation of this workload (not of a deleted one of its name); the log keeps its spec.
      const spec = await history.revisionSpec(req.name, req.toRevision);
      if (spec === undefined) throw refused({ kind: "UnknownRevision", name: req.name, revision: req.toRevision });
      return { type: "RollbackWorkload", name: req.name, to: { revision: req.toRevision, spec } };
    }),

    pauseRollout: workloadAction("PauseRollout", (req: { name: string; paused: boolean }, metadata) => ({ type: "PauseRollout", name: req.name, paused: req.paused, by: caller(metadata) })),

    liftQuarantine: workloadAction(
      "LiftQuarantine",
      (req: { name: string; node: string }, metadata) => ({ type: "LiftQuarantine", name: req.name, ...(req.node !== "" ? { node: req.node } : {}), by: caller(metadata) }),
      (req) => {
        if (req.node !== "") r.nodeNamed(req.node, "node");
      },
    ),

    promoteRollout: workloadAction("PromoteRollout", (req, metadata) => ({ type: "PromoteRollout", name: req.name, by: caller(metadata) })),

    // The run is the workload the decision created (PeriodicRunStarted names it).
    runWorkload: act(rpc, r, "RunWorkload", {
      lookUp: (req: { name: string }) => void r.workloadNamed(req.name),
      command: (req) => ({ type: "RunWorkload", name: req.name }),
      render: (_req, decision) => {
        const started = decision.events.find((e) => e.type === "PeriodicRunStarted");
        const run = started === undefined ? undefined : r.state.workloads.get(started.run);
        return { run: run === undefined ? undefined : r.wireWorkload(run) };
      },
    }),
  };
}
