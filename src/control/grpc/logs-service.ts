/**
 * The ControlPlane's Logs handler: the event log and the state say which copies to read (the
 * core's log-sources decides), their agents stream the output. Following a replica follows its
 * next copy too: a copy that ends (crashed, replaced) is followed by the one that replaces it,
 * once that one runs, until the caller cancels or the replica is no longer wanted.
 */
import { type ServerWritableStream, status } from "@grpc/grpc-js";
import { type ClusterView, type Instance, instanceSeq, type Workload } from "../../core/model/cluster-state.js";
import { type CopyOnNode, lastEndedCopies, type LogTarget, logTargets, replicasAsked } from "../../core/output/log-sources.js";
import type { Logger } from "../../shell/logger.js";
import { resolveSpec } from "../../core/model/spec.js";
import type { LogsRequest, LogsResponse } from "../../gen/tessera/v1/control_plane.js";
import type { AgentGateway } from "./agent-gateway.js";
import { boundedWriter, refused, type Rpc, type RpcError } from "./rpc.js";
import type { EventHistory } from "../store/store.js";

/** How often a followed replica between copies is looked at for its next one. */
const NEXT_COPY_POLL_MS = 250;

export interface LogsDeps {
  state: ClusterView;
  history: EventHistory;
  gateway: AgentGateway;
  log: Logger;
  /** The workload of that name, or a refusal (thrown) naming `field`. */
  workloadNamed(name: string, field: string): Workload;
  instancesOf(workload: string): Instance[];
}

/** A replica's newest copy after `after` that has run (so has output), or undefined. */
function nextCopy(instances: Instance[], replica: string, after: string): CopyOnNode | undefined {
  const seq = instanceSeq(after);
  const next = instances.filter((i) => i.name === replica && i.node !== null && i.runningSince !== null && instanceSeq(i.id) > seq).sort((a, b) => instanceSeq(a.id) - instanceSeq(b.id))[0];
  return next && { id: next.id, node: next.node! };
}

/** Whether replica `name` has no next copy to come: its workload gone, deleting, scaled below it, or a batch that has ended. */
function replicaEnded(state: ClusterView, workload: string, name: string): boolean {
  const w = state.workloads.get(workload);
  const index = Number(name.slice(name.lastIndexOf("-") + 1));
  return w === undefined || w.deleting || w.finished !== null || index >= resolveSpec(w.spec).replicas;
}

/** The copies a request reads (the core's log-sources decides), and whether it named one copy by its id; refusals are thrown. */
async function targetsOf(req: LogsRequest, deps: LogsDeps): Promise<{ targets: LogTarget[]; byCopy: boolean }> {
  const w = deps.workloadNamed(req.workload, "workload");
  const asked = { workload: w.name, instance: req.instance, previous: req.previous };
  const replicas = resolveSpec(w.spec).replicas;
  const instances = deps.instancesOf(w.name);
  const wanted = replicasAsked(asked, replicas, instances);
  if (!(wanted instanceof Set)) throw refused(wanted);
  const found = logTargets(asked, replicas, instances, lastEndedCopies(await deps.history.copyFacts(w.name), wanted, instances));
  if (!Array.isArray(found)) throw refused(found);
  return { targets: found, byCopy: instances.some((i) => i.id === req.instance) };
}

export function createLogsHandler(rpc: Rpc, deps: LogsDeps): (call: ServerWritableStream<LogsRequest, LogsResponse>) => Promise<void> {
  return async (call) => {
    const started = performance.now();
    if (!rpc.opened(call, "Logs", started, "tessera.v1.LogsRequest")) return;
    let asked: { targets: LogTarget[]; byCopy: boolean };
    try {
      asked = await targetsOf(call.request, deps);
    } catch (err) {
      const known = typeof (err as RpcError).code === "number";
      return rpc.endWith(call, "Logs", started, known ? (err as RpcError) : { code: status.UNAVAILABLE, details: `cannot read the event log: ${(err as Error).message}` });
    }
    // The caller may have gone while the log was read.
    if (call.cancelled) return rpc.finish("Logs", started, status.CANCELLED);
    streamLogs(rpc, deps, call, started, asked);
  };
}

/** Streams the targets' output to the call from their agents, following replicas from copy to copy when asked. */
function streamLogs(rpc: Rpc, deps: LogsDeps, call: ServerWritableStream<LogsRequest, LogsResponse>, started: number, { targets, byCopy }: { targets: LogTarget[]; byCopy: boolean }): void {
  const req = call.request;
  // A replica is followed from copy to copy; one copy asked by its id is read alone.
  const followsReplicas = req.follow && !req.previous && !byCopy;
  let open = targets.length;
  let failure: string | undefined;
  let done = false;
  const write = boundedWriter<LogsResponse>(call);
  /** Every read and wait opened; cancelling one that has ended does nothing. */
  const cancels: Array<() => void> = [];
  const cancelAll = () => {
    done = true;
    for (const c of cancels) c();
  };
  const close = () => {
    if (done) return;
    cancelAll();
    if (failure && targets.length === 1) rpc.endWith(call, "Logs", started, { code: status.UNAVAILABLE, details: failure });
    else {
      rpc.finish("Logs", started, status.OK);
      call.end();
    }
  };
  const ended = () => {
    if (--open === 0) close();
  };
  /** A follower that stops reading: its reads end on the agents too, and so does the call. */
  const tooSlow = () => {
    cancelAll();
    rpc.endWith(call, "Logs", started, { code: status.RESOURCE_EXHAUSTED, details: "the client reads the log too slowly; ask again (with --tail) to go on" });
  };
  /** Waits for the copy that follows `after` in replica `name` to run, then reads all of it; ends when the replica is no longer wanted. */
  const awaitNext = (name: string, after: string) => {
    const timer = setInterval(() => {
      if (done) return clearInterval(timer);
      if (replicaEnded(deps.state, req.workload, name)) {
        clearInterval(timer);
        return ended();
      }
      const next = nextCopy(deps.instancesOf(req.workload), name, after);
      if (next === undefined) return;
      clearInterval(timer);
      read(name, [next], 0, 0);
    }, NEXT_COPY_POLL_MS);
    cancels.push(() => clearInterval(timer));
  };
  /** Reads a replica's k-th copy; one that fails before a line is sent gives way to the next. */
  const read = (name: string, copies: CopyOnNode[], k: number, tail: number, earlier?: string) => {
    const copy = copies[k]!;
    let sent = false;
    cancels.push(
      // An ended copy prints nothing more: there is nothing to follow in it.
      deps.gateway.openLogs(copy.node, copy.id, tail, req.follow && !req.previous, {
        onLines: (lines) => {
          if (done) return;
          sent = true;
          for (const text of lines) if (!write({ instance: name, text }, Buffer.byteLength(text))) return tooSlow();
        },
        onEnd: (error) => {
          if (done) return;
          if (error && !sent && k + 1 < copies.length) return read(name, copies, k + 1, tail, error);
          if (!error && followsReplicas) return awaitNext(name, copies[0]!.id);
          if (error) {
            failure = earlier ? `${earlier} (and its last ended copy: ${error})` : error;
            deps.log.warn("logs ended", { instance: copy.id, error });
          }
          ended();
        },
      }),
    );
  };
  for (const t of targets) read(t.name, t.copies, 0, req.tail);
  if (open === 0) close();
  call.on("cancelled", () => {
    if (done) return;
    cancelAll();
    rpc.finish("Logs", started, status.CANCELLED);
  });
}
