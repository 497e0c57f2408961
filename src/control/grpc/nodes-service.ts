/**
 * The ControlPlane's node handlers: list, get, cordon, uncordon and drain. They look the node up,
 * have the writer decide, and render it (resources.ts). Nothing here decides.
 */
import { takePage } from "../../core/views/paging.js";
import type { ControlPlaneServer } from "../../gen/tessera/v1/control_plane.js";
import { Node as WireNode } from "../../gen/tessera/v1/types.js";
import type { EventHistory } from "../store/store.js";
import { act, byName, nameKey, type Resources } from "./resources.js";
import { cursorOf, type Rpc } from "./rpc.js";
import { toWireNode } from "./wire.js";
import { RECENT_EVENTS } from "./workloads-service.js";

const nodeBytes = (n: WireNode) => WireNode.encode(n).finish().length;

type NodesHandlers = Pick<ControlPlaneServer, "listNodes" | "getNode" | "cordonNode" | "uncordonNode" | "drainNode">;

export function createNodesHandlers(rpc: Rpc, r: Resources, history: EventHistory): NodesHandlers {
  const { state, gateway } = r;
  // Heartbeats arrive on the agents' streams, which only the leader holds (its gateway).
  const heard = gateway !== undefined;
  /** Cordon, uncordon and drain: the node looked up, the command decided, the node as it is now. */
  const nodeAction = (type: "CordonNode" | "UncordonNode" | "DrainNode") =>
    act(rpc, r, type, {
      lookUp: (req: { name: string }) => void r.nodeNamed(req.name),
      command: (req) => ({ type, node: req.name }),
      render: (req) => ({ node: r.wireNode(req.name) }),
    });
  return {
    listNodes: rpc.unary("ListNodes", (req) => {
      const cursor = cursorOf(req, "nodes");
      const used = gateway?.usage.totals(state).nodes;
      const page = takePage(state.nodes.values(), cursor, "nodes", { keyOf: nameKey, render: (n) => toWireNode(state, n, heard, used?.get(n.name)), sizeOf: nodeBytes });
      return { nodes: page.items, nextPageToken: page.nextPageToken };
    }),

    getNode: rpc.unary("GetNode", async (req) => {
      const n = r.nodeNamed(req.name);
      const instances = [...state.instances.values()].filter((i) => i.node === n.name).sort(byName);
      const found = { node: r.wireNode(n.name), instances: instances.map(r.wireInstance) };
      return { ...found, events: r.recent(await history.recentNodeEvents(n.name, RECENT_EVENTS)) };
    }),

    cordonNode: nodeAction("CordonNode"),
    uncordonNode: nodeAction("UncordonNode"),
    drainNode: nodeAction("DrainNode"),
  };
}
