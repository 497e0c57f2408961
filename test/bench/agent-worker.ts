/**
 * One process of a benchmark fleet (agent-fleet.ts starts it with an IPC channel): runs the
 * agents it is told to, each the real Agent on the simulated executor with its own certificate,
 * TLS connection and Connect stream, and tells its parent of every copy they start. Agents are
 * spread over processes because descriptors are counted per process (the hard limit cannot be
 * raised), and so that the fleet's CPU is not one core's.
 */
import type { NodePorts } from "../../src/core/model/ports.js";
import { join } from "node:path";
import { Agent } from "../../src/agent/agent.js";
import { NodeCredentials } from "../../src/agent/credentials.js";
import type { Running, StartRequest } from "../../src/agent/executor.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import type { Logger } from "../../src/shell/logger.js";
import { pool } from "./pool.js";

/** What the parent sends, once. */
export interface WorkerStart {
  control: string;
  caPem: string;
  joinToken: string;
  /** Each agent's data dir is DIR/NODE. */
  dir: string;
  nodes: string[];
  ports: NodePorts;
  /** Agents of this process enrolling at once. */
  concurrency: number;
}

/**
 * What the worker sends: its agents all started; or copies started, each with the time it was,
 * in ms since the epoch on the high-resolution clock (performance.timeOrigin + now(), which
 * processes on one machine share), so the parent can place it on its own clock whatever the
 * channel's delay.
 */
export type WorkerMessage = { type: "up" } | { type: "failed"; error: string } | { type: "started"; copies: Array<[workload: string, atEpochMs: number]> };

/** A logger that drops everything: a thousand agents' lines would be the benchmark. */
const SILENT: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => SILENT };

/** The simulated executor, telling of each copy it started. */
class CountingExecutor extends SimulatedExecutor {
  constructor(private readonly started: (req: StartRequest) => void) {
    super();
  }

  /** The agent reports the copy Running as soon as this resolves (instance-supervisor.ts). */
  override async start(req: StartRequest): Promise<Running> {
    const running = await super.start(req);
    this.started(req);
    return running;
  }
}

function send(m: WorkerMessage): void {
  process.send!(m);
}

/** Starts told of in this turn, sent together at the next one: one message per copy would cost more than the copy. */
let pending: Array<[string, number]> = [];
function started(req: StartRequest): void {
  if (pending.length === 0) setImmediate(() => send({ type: "started", copies: pending.splice(0) }));
  pending.push([req.workload, performance.timeOrigin + performance.now()]);
}

async function run(s: WorkerStart): Promise<void> {
  await pool(s.concurrency, s.nodes.length, async (i) => {
    const node = s.nodes[i]!;
    await new Agent({
      control: s.control,
      node,
      executor: new CountingExecutor(started),
      version: "bench",
      ports: s.ports,
      hostVolumes: [],
      log: SILENT,
      labels: {},
      capacity: { cpuMillis: 64_000, memoryMb: 262_144 },
      credentials: new NodeCredentials(join(s.dir, node), node, s.control, { caPem: s.caPem, joinToken: s.joinToken }),
    }).start();
  });
  send({ type: "up" });
}

process.once("message", (s: WorkerStart) => {
  run(s).catch((err: unknown) => {
    send({ type: "failed", error: String(err) });
    process.exit(1);
  });
});
// The parent is gone (stopped, or died): so is its fleet.
process.on("disconnect", () => process.exit(0));
