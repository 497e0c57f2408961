/**
 * The ControlPlane's endpoint handlers: ListEndpoints reads the writer's view through the core's
 * endpointsOf; WatchEndpoints follows the EndpointsHub. Nothing here decides.
 */
import { type ServerWritableStream, status } from "@grpc/grpc-js";
import type { Endpoint } from "../../core/views/endpoints.js";
import { endpointsOf } from "../../core/views/endpoints.js";
import { type SortKey, takePage } from "../../core/views/paging.js";
import { validateName } from "../../core/model/validate.js";
import { EndpointChange, type ControlPlaneServer, type WatchEndpointsRequest, type WatchEndpointsResponse } from "../../gen/tessera/v1/control_plane.js";
import { Endpoint as WireEndpoint } from "../../gen/tessera/v1/types.js";
import type { EndpointChangeKind, EndpointsHub } from "../writer/endpoints-hub.js";
import { boundedWriter, cursorOf, refused, type Rpc } from "./rpc.js";
import type { CommandPort } from "../writer/writer.js";

/** endpointsOf's order, as a page token names it. */
const endpointKey = (e: Endpoint): SortKey => [e.workload, e.name, e.portName, e.instance];
const endpointBytes = (e: WireEndpoint) => WireEndpoint.encode(e).finish().length;

const CHANGE: Record<EndpointChangeKind, EndpointChange> = {
  added: EndpointChange.ENDPOINT_CHANGE_ADDED,
  changed: EndpointChange.ENDPOINT_CHANGE_CHANGED,
  removed: EndpointChange.ENDPOINT_CHANGE_REMOVED,
};

type EndpointsHandlers = Pick<ControlPlaneServer, "listEndpoints" | "watchEndpoints">;

export function createEndpointsHandlers(rpc: Rpc, writer: CommandPort, hub: EndpointsHub): EndpointsHandlers {
  const state = writer.view;
  return {
    listEndpoints: rpc.unary("ListEndpoints", (req) => {
      if (req.workload !== "") {
        const problem = validateName(req.workload, "workload");
        if (problem) throw refused(problem);
        if (!state.workloads.has(req.workload)) throw refused({ kind: "UnknownWorkload", name: req.workload });
      }
      const scope = `endpoints:${req.workload}`;
      const cursor = cursorOf(req, scope);
      const page = takePage(endpointsOf(state, req.workload || undefined), cursor, scope, { keyOf: endpointKey, render: (e): WireEndpoint => e, sizeOf: endpointBytes });
      return { endpoints: page.items, nextPageToken: page.nextPageToken };
    }),

    watchEndpoints: (call: ServerWritableStream<WatchEndpointsRequest, WatchEndpointsResponse>) => {
      const started = performance.now();
      if (!rpc.opened(call, "WatchEndpoints", started, "tessera.v1.WatchEndpointsRequest")) return;
      const req = call.request;
      if (req.workload !== "") {
        const problem = validateName(req.workload, "workload");
        if (problem) return rpc.endWith(call, "WatchEndpoints", started, refused(problem));
      }
      let ended = false;
      const bounded = boundedWriter<WatchEndpointsResponse>(call);
      /** Writes one message, or cuts a client off that lets too much queue up (it can watch again). */
      const write = (msg: WatchEndpointsResponse): boolean => {
        if (ended) return false;
        if (!bounded(msg, msg.endpoint ? endpointBytes(msg.endpoint) : 0)) {
          ended = true;
          rpc.endWith(call, "WatchEndpoints", started, { code: status.RESOURCE_EXHAUSTED, details: "watcher too slow; watch again for a fresh snapshot" });
          return false;
        }
        return true;
      };
      const end = hub.watch({
        workload: req.workload || undefined,
        snapshot: (endpoints, sequence) =>
          endpoints.every((endpoint) => write({ change: EndpointChange.ENDPOINT_CHANGE_ADDED, endpoint, sequence })) &&
          write({ change: EndpointChange.ENDPOINT_CHANGE_SYNCED, sequence }),
        change: (kind, endpoint, sequence) => write({ change: CHANGE[kind], endpoint, sequence }),
        closed: (reason) => {
          if (ended) return;
          ended = true;
          rpc.endWith(call, "WatchEndpoints", started, { code: status.UNAVAILABLE, details: reason });
        },
      });
      call.on("cancelled", () => {
        if (ended) return;
        ended = true;
        end();
        rpc.finish("WatchEndpoints", started, status.CANCELLED);
      });
    },
  };
}
