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

/** What the parent sends: once, the agents to start; then perhaps agents to kill. */
export type WorkerCommand = ({ type: "start" } & WorkerStart) | { type: "kill"; node: string };

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
export type WorkerMessage =
  | { type: "up" }
  | { type: "failed"; error: string }
  | { type: "started"; copies: Array<[workload: string, atEpochMs: number]> }
  /** An agent killed: when, its last heartbeat (0: none since its hello), and the copies it held. */
  | { type: "killed"; node: string; atEpochMs: number; lastBeatEpochMs: number; copies: number };

/**
 * A logger that drops everything (a thousand agents' lines would be the benchmark) but the time
 * of the agent's last heartbeat (control-stream.ts logs each at debug).
 */
function silent(beat: { at: number }): Logger {
  const log: Logger = {
    error() {},
    warn() {},
    info() {},
    debug(msg) {
      if (msg === "heartbeat") beat.at = performance.timeOrigin + performance.now();
    },
    with: () => log,
  };
  return log;
}

/** The simulated executor, telling of each copy it started, and counting those it holds. */
class CountingExecutor extends SimulatedExecutor {
  held = 0;

  constructor(private readonly started: (req: StartRequest) => void) {
    super();
  }

  /** The agent reports the copy Running as soon as this resolves (instance-supervisor.ts). */
  override async start(req: StartRequest): Promise<Running> {
    const running = await super.start(req);
    this.held++;
    void running.exited.then(() => this.held--);
    this.started(req);
    return running;
  }
}

/** The agents of this process, by node, with their executors. */
const agents = new Map<string, { agent: Agent; executor: CountingExecutor; beat: { at: number } }>();

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
    const executor = new CountingExecutor(started);
    const beat = { at: 0 };
    const agent = new Agent({
      control: s.control,
      node,
      executor,
      version: "bench",
      ports: s.ports,
      hostVolumes: [],
      log: silent(beat),
      labels: {},
      capacity: { cpuMillis: 64_000, memoryMb: 262_144 },
      credentials: new NodeCredentials(join(s.dir, node), node, s.control, { caPem: s.caPem, joinToken: s.joinToken }),
    });
    agents.set(node, { agent, executor, beat });
    await agent.start();
  });
  send({ type: "up" });
}

/**
 * Kills the agent of `node` as kill -9 would, as the control plane sees it: its stream and
 * connection end and it says nothing more (Agent.close sends what it had queued first, which at
 * rest is nothing); its simulated copies run nothing that could outlive it.
 */
function kill(node: string): void {
  const a = agents.get(node);
  if (!a) return send({ type: "failed", error: `no agent ${node} in this process` });
  agents.delete(node);
  const atEpochMs = performance.timeOrigin + performance.now();
  a.agent.close();
  send({ type: "killed", node, atEpochMs, lastBeatEpochMs: a.beat.at, copies: a.executor.held });
}

process.on("message", (m: WorkerCommand) => {
  if (m.type === "kill") return kill(m.node);
  run(m).catch((err: unknown) => {
    send({ type: "failed", error: String(err) });
    process.exit(1);
  });
});
// The parent is gone (stopped, or died): so is its fleet.
process.on("disconnect", () => process.exit(0));
