/**
 * The ControlPlane's Watch handler: committed events after a sequence number, then live
 * commits (watch-hub.ts), bounded in bytes queued for a slow reader. Resuming after a sequence
 * number whose successors retention dropped is refused OUT_OF_RANGE rather than skipping them
 * silently. Once the watch is set up it sends its response headers, carrying the newest
 * sequence number assigned so far (NEWEST_SEQUENCE_HEADER): a reader that wants only what is
 * already committed stops there. The HTTP event stream (event-stream.ts) is this handler too.
 */
import { Metadata, type ServerWritableStream, status } from "@grpc/grpc-js";
import { checkRetained, NEWEST_SEQUENCE_HEADER } from "../../core/events/event-stream.js";
import { validateName } from "../../core/model/validate.js";
import type { WatchRequest, WatchResponse } from "../../gen/tessera/v1/control_plane.js";
import { Event as WireEvent } from "../../gen/tessera/v1/types.js";
import { boundedWriter, refused, type Rpc } from "./rpc.js";
import type { EventHistory } from "../store/store.js";
import type { WatchHub } from "../writer/watch-hub.js";
import { toWireEvent } from "./wire.js";


const eventBytes = (e: WireEvent) => WireEvent.encode(e).finish().length;

export function createWatchHandler(rpc: Rpc, hub: WatchHub, history: EventHistory): (call: ServerWritableStream<WatchRequest, WatchResponse>) => Promise<void> {
  const { opened, finish, endWith } = rpc;
  return async (call) => {
    const started = performance.now();
    if (!opened(call, "Watch", started, "tessera.v1.WatchRequest")) return;
    const req = call.request;
    if (req.workload !== "") {
      const problem = validateName(req.workload, "workload");
      if (problem) return endWith(call, "Watch", started, refused(problem));
    }
    let ended = false;
    let end: (() => void) | undefined;
    call.on("cancelled", () => {
      if (ended) return;
      ended = true;
      end?.();
      finish("Watch", started, status.CANCELLED);
    });
    const newest = history.newestSeq();
    const gap = checkRetained(req.afterSequence, await history.oldestSeq(), newest);
    if (ended) return;
    if (gap) {
      ended = true;
      return endWith(call, "Watch", started, refused(gap));
    }
    const write = boundedWriter<WatchResponse>(call);
    end = hub.watch(
      {
        workload: req.workload || undefined,
        send: (e) => {
          if (ended) return false;
          const event = toWireEvent(e);
          if (!write({ event }, eventBytes(event))) {
            ended = true;
            endWith(call, "Watch", started, { code: status.RESOURCE_EXHAUSTED, details: `watcher too slow; resume with after_sequence ${e.seq - 1}` });
            return false;
          }
          return true;
        },
      },
      req.afterSequence,
      (reason) => {
        if (ended) return;
        ended = true;
        endWith(call, "Watch", started, { code: status.UNAVAILABLE, details: reason });
      },
    );
    const headers = new Metadata();
    headers.set(NEWEST_SEQUENCE_HEADER, String(newest));
    call.sendMetadata(headers);
  };
}
