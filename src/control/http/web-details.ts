/**
 * The console's detail reads, on top of the fleet's stream: a workload (its spec as JSON and
 * YAML, its status as `ctl describe` reports it, a periodic batch's next run with it, its endpoints), a node (labels, executors, host volumes,
 * capacity), what the nodes use (the usage board `ctl top` reads), and the fleet's event log (the
 * events page). Each is admitted as the RPC that reads the same thing. Shell: reads the writer's
 * view and the log, decides nothing.
 */
import type { Instance } from "../../core/model/cluster-state.js";
import { validateName } from "../../core/model/validate.js";
import { workloadStatus } from "../../core/views/workload-status.js";
import { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type * as Yaml from "yaml";
import { toWireEvent } from "../grpc/wire.js";
import { cronNext } from "../writer/cron.js";
import type { Route } from "./web-guard.js";
import { json, refusal, type WebContext } from "./web-api.js";

/** Events GET /api/log returns by default, and at most. */
const LOG_DEFAULT = 200;
const LOG_MAX = 1_000;

export function detailRoutes({ deps, admit }: WebContext): Record<string, Route> {
  const view = deps.writer.view;
  return {
    "/api/workloads/:name": {
      GET: (req) => {
        const who = admit(req, "GetWorkload");
        if (who instanceof Response) return who;
        const name = req.params.name!;
        const bad = validateName(name, "workload");
        if (bad) return refusal(bad);
        const w = view.workloads.get(name);
        if (!w) return refusal({ kind: "UnknownWorkload", name });
        const copies = [...(view.instancesByWorkload.get(name) ?? [])].map((id) => view.instances.get(id)!);
        const spec = WorkloadSpec.toJSON(w.spec);
        // Loaded at the first workload page read: the control plane does not pay for it otherwise.
        const { stringify } = require("yaml") as typeof Yaml;
        return json({
          name,
          labels: w.labels,
          spec,
          specYaml: stringify(spec),
          createdAt: w.createdAt,
          status: workloadStatus(view, w, copies, Date.now(), cronNext),
          endpoints: endpointsOf(copies, (node) => view.nodes.get(node)?.ports.address ?? ""),
        });
      },
    },
    "/api/nodes/:name": {
      GET: (req) => {
        const who = admit(req, "GetNode");
        if (who instanceof Response) return who;
        const name = req.params.name!;
        const bad = validateName(name, "node");
        if (bad) return refusal(bad);
        const n = view.nodes.get(name);
        if (!n) return refusal({ kind: "UnknownNode", name });
        return json({ name, labels: n.labels, executors: n.executors, version: n.version, capacity: n.capacity, volumes: n.volumes, address: n.ports.address, connected: n.connected });
      },
    },
    /** Each node's running copies' use, summed from their agents' last samples (`ctl top`); a node with none heard is absent. */
    "/api/top": (req) => {
      const who = admit(req, "ListNodes");
      if (who instanceof Response) return who;
      const { nodes } = deps.gateway.usage.totals(view);
      return json({ nodes: Object.fromEntries([...nodes].map(([n, u]) => [n, { cpuMillis: u.cpuMillis, memoryBytes: u.memoryBytes }])) });
    },
    /** The fleet's last events (or those after `after`), oldest first. */
    "/api/log": async (req) => {
      const who = admit(req, "GetHistory");
      if (who instanceof Response) return who;
      const query = new URL(req.url).searchParams;
      const limit = Number(query.get("limit") ?? LOG_DEFAULT);
      if (!Number.isInteger(limit) || limit < 1 || limit > LOG_MAX) return json({ error: `limit: expected a whole number from 1 to ${LOG_MAX}` }, 400);
      const after = query.has("after") ? Number(query.get("after")) : Math.max(0, deps.history.newestSeq() - limit);
      if (!Number.isInteger(after) || after < 0) return json({ error: "after: expected a whole number from 0" }, 400);
      return json({ events: (await deps.history.eventsAfter(after, limit)).map(toWireEvent) });
    },
  };
}

/** Where a workload's running copies are reached: the node's address and each assigned port. */
function endpointsOf(copies: Instance[], addressOf: (node: string) => string): { copy: string; port: string; address: string }[] {
  return copies.flatMap((i) => {
    if (i.node === null || i.state !== "running" || i.desired !== "run") return [];
    const host = addressOf(i.node);
    return i.ports.map((p) => ({ copy: i.name, port: p.name, address: `${host || i.node}:${p.hostPort}/${p.protocol}` }));
  });
}
