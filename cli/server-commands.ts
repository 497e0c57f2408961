/**
 * The server modes of `tessera`: control, agent and dev.
 *
 * The control plane, the agent and dockerode are imported by the command that runs them, not
 * here: an agent has no use for the control plane's modules, a control plane none for the
 * agent's, and only an agent with `--executor docker` for dockerode (with ssh2 and its own
 * proto-loader, the largest module graph in the binary).
 */
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { Command, UsageError } from "clipanion";
import { oneOf, UINT32_MAX, wholeNumber } from "./argv.js";
import { TableCommand } from "./flag-table.js";
import { AGENT_FLAGS, CONTROL_FLAGS, DEV_FLAGS } from "./server-flags.js";
import { InputError } from "./errors.js";
import { existsSync, readFileSync } from "node:fs";
import type { Agent } from "../src/agent/agent.js";
import { NodeCredentials } from "../src/agent/credentials.js";
import { checkPassEnv } from "../src/agent/executor.js";
import { DEFAULT_PROCESS_FLAGS, makeExecutor } from "./agent-executors.js";
import { PLACEMENT_STRATEGIES } from "../src/core/reconcile/placement.js";
import { isLoopback } from "../src/core/ha/listen-address.js";
import { checkLeaseTiming } from "../src/core/ha/lease.js";
import { DEFAULT_POLICY } from "../src/core/reconcile/reconcile.js";
import type { Logger } from "../src/shell/logger.js";
import type { Resources } from "../src/gen/tessera/v1/types.js";
import { caHashOf } from "../src/shell/ca-hash.js";
import { parseAddressList } from "../src/core/ha/control-addresses.js";
import { DEFAULT_METRICS_LISTEN, localFile, readTrimmed } from "./defaults.js";
import { parseDuration } from "./duration.js";
import { processLogger } from "./log.js";
import { VERSION } from "./version-command.js";
import { parseNodePorts } from "./agent-ports.js";
import { parseHostVolumes } from "./agent-volumes.js";
import { checkSecretFile, ensurePrivateDir } from "../src/shell/private-dir.js";

/** Grace period for instances stopped when `tessera dev` or `tessera agent` exits. */
const EXIT_GRACE_MS = 5_000;

/** Resolves when the process is asked to stop. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
}

/** `k=v` flags into a label map; refuses anything else with the flag named. */
export function parseLabels(flags: string[], flag = "--label"): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag}: expected key=value, got "${f}"`);
    labels[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return labels;
}

/** Capacity is sent as uint32 fields: a larger number could not be encoded. */
function parseCount(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : wholeNumber(value, flag, UINT32_MAX);
}

/** What this host offers: all cores and memory for real executors; a roomy default when simulated. */
function detectCapacity(simulated: boolean, cpuFlag: string | undefined, memFlag: string | undefined): Resources {
  const cpuMillis = parseCount(cpuFlag, "--cpu-millis") ?? (simulated ? 64_000 : cpus().length * 1000);
  const memoryMb = parseCount(memFlag, "--memory-mb") ?? (simulated ? 262_144 : Math.floor(totalmem() / 1024 / 1024));
  return { cpuMillis, memoryMb };
}

/** Plaintext is for loopback; anywhere else it takes --insecure twice. */
function insecureAllowed(count: number, listen: string): boolean {
  if (count === 0) return false;
  if (!isLoopback(listen) && count < 2) throw new UsageError(`--insecure: ${listen} is not a loopback address; plaintext there exposes every node to anyone who can reach it (give --insecure twice to insist)`);
  return true;
}

/** Where the web page is, and how to sign in to it. */
function announceWeb(url: string | undefined, dataDir: string, secure: boolean, out: NodeJS.WritableStream): void {
  if (url === undefined) return;
  if (!secure) {
    out.write(`web: ${url}\n`);
    return;
  }
  // A control plane that joined a cluster on PostgreSQL has no admin-token file of its own.
  const tokenFile = join(dataDir, "admin-token");
  const token = existsSync(tokenFile) ? `$(cat ${tokenFile})` : "ADMIN_TOKEN";
  out.write(`web: ${url} (sign in with a token: ${url}?token=${token})\n`);
}

/**
 * Where the credentials are, for the operator. A control plane that joined a cluster on
 * PostgreSQL has no token files of its own: the cluster's tokens are not rotated for it.
 */
function announceSecurity(dataDir: string, out: NodeJS.WritableStream): void {
  const ca = join(dataDir, "pki", "ca.pem");
  if (!existsSync(ca)) return;
  const tokens = ["join", "admin"].map((kind) => {
    const file = join(dataDir, `${kind}-token`);
    return existsSync(file) ? `${kind} token in ${file}` : `no ${kind} token file here (copy the first control plane's ${kind}-token, or run \`tessera ctl token rotate ${kind}\` with the admin token)`;
  });
  out.write(`CA ${caHashOf(readFileSync(ca, "utf8"))}; ${tokens.join(", ")}\n`);
}

/** The CA secret for `--store postgres://…`: the file's contents (without a trailing newline), or `$TESSERA_CA_SECRET`. */
function readCaSecret(file: string | undefined): string | undefined {
  if (file === undefined) return process.env.TESSERA_CA_SECRET;
  let secret: string;
  try {
    secret = readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (err) {
    throw new UsageError(`--ca-secret-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    checkSecretFile(file, "--ca-secret-file");
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return secret;
}

/**
 * Runs an agent until a signal. A real agent leaves its instances running (a restarted agent
 * adopts them, as Nomad's client does); `tessera dev` is a sandbox and stops them.
 */
async function runAgent(agent: Agent, log: Logger, stopInstances: boolean): Promise<number> {
  await agent.start();
  const signal = await untilSignal();
  log.info("stopping", { signal, instances: stopInstances ? "stopping them" : "left running" });
  if (stopInstances) await agent.stopAll(EXIT_GRACE_MS);
  agent.close();
  return 0;
}

export class ControlCommand extends TableCommand<typeof CONTROL_FLAGS> {
  static paths = [["control"]];
  static usage = Command.Usage({
    category: "Servers",
    description: "run the control plane",
    details:
      "Serves the ControlPlane API for ctl and the AgentGateway stream for agents; keeps state in SQLite under the data dir, or in PostgreSQL with `--store postgres://USER@HOST:PORT/DB`, where several control planes may share one database, one leading and the others following its commits (they answer reads, refuse changes naming the leader, and lead from memory when it goes); the cluster CA is kept in the database, its key sealed with `--ca-secret-file` (the same secret for every control plane), and each control plane issues its own server certificate into its data dir; tokens are hashes in the database, so a control plane joining the cluster gets no token files (copy the first's, or `ctl token rotate`). One control plane per data dir: a second one refuses to start and names the process holding it. A database that is not the data dir's cluster's (emptied, replaced, damaged) is refused with the database named; `--reinitialize` starts the cluster over empty on purpose (SQLite only).",
    examples: [
      ["Listen on the default loopback address", "tessera control"],
      ["Choose address and data dir", "tessera control --listen 127.0.0.1:7700 --data-dir /var/lib/tessera"],
      ["Keep the state in PostgreSQL", "tessera control --store postgres://tessera@db.internal:5432/tessera"],
    ],
  });

  constructor() {
    super(CONTROL_FLAGS);
  }

  async run() {
    const log = processLogger("control");
    const f = this.flags();
    const placement = oneOf(f.placement, "--placement", PLACEMENT_STRATEGIES);
    const suspectAfterMs = parseDuration(f["suspect-after"], "--suspect-after");
    const offlineAfterMs = parseDuration(f["offline-after"], "--offline-after");
    if (offlineAfterMs <= suspectAfterMs) throw new UsageError("--offline-after: expected a longer silence than --suspect-after");
    const startGraceMs = parseDuration(f["start-grace"], "--start-grace");
    const maxHeartbeatsPerSecond = wholeNumber(f["max-heartbeats-per-second"], "--max-heartbeats-per-second");
    if (maxHeartbeatsPerSecond === 0) throw new UsageError("--max-heartbeats-per-second: expected 1 or more");
    const lease = { ttlMs: parseDuration(f["lease-ttl"], "--lease-ttl"), renewMs: parseDuration(f["lease-renew"], "--lease-renew") };
    const badLease = checkLeaseTiming(lease);
    if (badLease) throw new UsageError(badLease);
    const { startControlPlane } = await import("../src/control/lifecycle/server.js");
    const dataDir = f["data-dir"];
    const caSecret = readCaSecret(f["ca-secret-file"]);
    if (f.restore !== undefined) await restoreInto(f.restore, dataDir, f.store || undefined, f.insecure === 0 ? caSecret : undefined, log);
    // The CA and token files are in place once it leads: on PostgreSQL a first control plane
    // writes them only then. The banner waits for that (a standby that never leads shows none).
    let leading!: () => void;
    const led = new Promise<void>((resolve) => (leading = resolve));
    const cp = await startControlPlane({
      onLead: () => leading(),
      lease,
      listen: f.listen,
      dataDir,
      store: f.store || undefined,
      log,
      policy: { ...DEFAULT_POLICY, placement, suspectAfterMs, offlineAfterMs, startGraceMs, maxHeartbeatsPerSecond },
      tickMs: parseDuration(f.tick, "--tick"),
      metricsListen: f["metrics-listen"] || undefined,
      insecure: insecureAllowed(f.insecure, f.listen),
      advertise: f.advertise,
      reinitialize: f.reinitialize,
      snapshots: snapshotSchedule(f["snapshot-every"], f["snapshot-keep"]),
      caSecret,
    });
    const secure = f.insecure === 0;
    void led.then(() => {
      if (secure) announceSecurity(dataDir, this.context.stdout);
      announceWeb(cp.webUrl, dataDir, secure, this.context.stdout);
    });
    const signal = await untilSignal();
    log.info("stopping", { signal });
    await cp.stop();
    return 0;
  }
}

export class AgentCommand extends TableCommand<typeof AGENT_FLAGS> {
  static paths = [["agent"]];
  static usage = Command.Usage({
    category: "Servers",
    description: "run an agent: connect to the control plane and run what it says",
    examples: [
      ["Run processes for node-a", "tessera agent --name node-a"],
      ["Pretend to run everything", "tessera agent --name sim-1 --simulated"],
      ["Follow the leader of several control planes", "tessera agent --name node-a --control a.internal:7700,b.internal:7700"],
      ["Offer copies a directory, and another read-only", "tessera agent --name node-a --host-volume data=/srv/data --host-volume certs=/etc/ssl/certs:ro"],
      ["Let copies use the host's proxy", "tessera agent --name node-a --pass-env HTTPS_PROXY"],
    ],
  });

  constructor() {
    super(AGENT_FLAGS);
  }

  async run() {
    const f = this.flags();
    const name = f.name ?? "";
    if (name === "") throw new UsageError("--name: required (or `name` in --config): this node's name");
    const log = processLogger("agent").with({ node: name });
    const kind = f.simulated ? "simulated" : f.executor;
    const failureRate = Number(f["sim-failure-rate"]);
    if (!(failureRate >= 0 && failureRate <= 1)) throw new UsageError(`--sim-failure-rate: expected a number from 0 to 1, got "${f["sim-failure-rate"]}"`);
    const agentDir = f["data-dir"];
    // Copies' logs and the node's key are for its owner only.
    ensurePrivateDir(agentDir, "--data-dir");
    const badPassEnv = checkPassEnv(f["pass-env"]);
    if (badPassEnv) throw new UsageError(badPassEnv);
    const simulated = { startDelayMs: parseDuration(f["sim-start-delay"], "--sim-start-delay"), failureRate };
    const limitFlags = { cgroups: f.cgroups, pidsLimit: f["pids-limit"], allowUnenforced: f["allow-unenforced-limits"] };
    const { executor, limits } = await makeExecutor(kind, name, agentDir, log, simulated, { passEnv: f["pass-env"], limits: limitFlags });
    const control = f.control;
    const addresses = parseAddressList(control, "--control");
    if (!addresses.ok) throw new UsageError(addresses.error);
    const { Agent } = await import("../src/agent/agent.js");
    const agent = new Agent({
      control,
      credentials: f.insecure
        ? undefined
        : new NodeCredentials(agentDir, name, control, {
            caPem: readTrimmed(f["ca-file"] ?? localFile("pki", "ca.pem")),
            caHash: f["ca-hash"],
            joinToken: f["join-token"] ?? readTrimmed(localFile("join-token")),
          }),
      node: name,
      executor,
      limits,
      version: VERSION,
      log,
      labels: parseLabels(f.label),
      capacity: detectCapacity(kind === "simulated", f["cpu-millis"], f["memory-mb"]),
      ports: parseNodePorts(f["advertise-address"], f["port-range"], f["reserved-ports"]),
      hostVolumes: parseHostVolumes(f["host-volume"]),
      heartbeatMs: parseDuration(f.heartbeat, "--heartbeat"),
      dnsListen: f["dns-listen"] || undefined,
      // A simulated agent runs nothing and keeps nothing there but its certificate (named by node).
      dataDir: kind === "simulated" ? undefined : agentDir,
    });
    return runAgent(agent, log, false);
  }
}

export class DevCommand extends TableCommand<typeof DEV_FLAGS> {
  static paths = [["dev"]];
  static usage = Command.Usage({
    category: "Servers",
    description: "run a control plane and one local agent (process executor) in one process",
    details: `Zero configuration: listens on ${DEV_FLAGS.listen.default}, keeps state in $TESSERA_DATA_DIR or ~/.tessera, names its node ${DEV_FLAGS.name.default}. Ctrl-C stops everything it started.`,
    examples: [["Start it, then use `tessera ctl` from another terminal", "tessera dev"]],
  });

  constructor() {
    super(DEV_FLAGS);
  }

  async run() {
    const log = processLogger("dev");
    const f = this.flags();
    const dataDir = f["data-dir"];
    const [{ startControlPlane }, { Agent }] = await Promise.all([import("../src/control/lifecycle/server.js"), import("../src/agent/agent.js")]);
    const cp = await startControlPlane({
      listen: f.listen,
      dataDir,
      log: log.with({ component: "control" }),
      metricsListen: DEFAULT_METRICS_LISTEN,
      reinitialize: f.reinitialize,
    });
    const agentLog = log.with({ component: "agent", node: f.name });
    // A sandbox on one machine, often not run as root: copies that state resources run there
    // unlimited (it says so at start) rather than wait for ever for a node that enforces them.
    const sandbox = { ...DEFAULT_PROCESS_FLAGS, limits: { ...DEFAULT_PROCESS_FLAGS.limits, allowUnenforced: true } };
    const { executor, limits } = await makeExecutor("process", f.name, dataDir, agentLog, {}, sandbox);
    const agent = new Agent({
      control: cp.address,
      node: f.name,
      executor,
      limits,
      version: VERSION,
      log: agentLog,
      labels: {},
      capacity: detectCapacity(false, undefined, undefined),
      // A sandbox on this machine: its copies are reached on loopback.
      ports: parseNodePorts("127.0.0.1", undefined, []),
      hostVolumes: parseHostVolumes(f["host-volume"]),
      credentials: new NodeCredentials(dataDir, f.name, cp.address, { caPem: readTrimmed(join(dataDir, "pki", "ca.pem")), joinToken: readTrimmed(join(dataDir, "join-token")) }),
      dnsListen: f["dns-listen"] || undefined,
      dataDir,
    });
    this.context.stdout.write(`tessera dev: control plane on ${cp.address}, node ${f.name}. Try: tessera ctl get nodes\n`);
    announceWeb(cp.webUrl, dataDir, true, this.context.stdout);
    const code = await runAgent(agent, agentLog, true);
    await cp.stop();
    return code;
  }
}


/** `--restore FILE`: the snapshot's files into the data dir, or its rows into the `--store` database, before the control plane opens it. */
async function restoreInto(file: string, dataDir: string, store: string | undefined, caSecret: string | undefined, log: ReturnType<typeof processLogger>): Promise<void> {
  const { restoreFromSnapshot } = await import("../src/control/lifecycle/restore-snapshot.js");
  try {
    const meta = await restoreFromSnapshot(file, dataDir, store, caSecret);
    log.info("restored from a snapshot", { file, cluster: meta.clusterId, sequence: meta.sequence, takenAt: meta.takenAt, store: meta.store ?? "sqlite" });
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

/** `--snapshot-every` and `--snapshot-keep`: off at an interval of 0; at least one kept. */
function snapshotSchedule(every: string, keep: string): { everyMs: number; keep: number } {
  const kept = wholeNumber(keep, "--snapshot-keep", 1000);
  if (kept === 0) throw new UsageError("--snapshot-keep: expected 1 or more (turn snapshots off with --snapshot-every 0)");
  return { everyMs: parseDuration(every, "--snapshot-every"), keep: kept };
}
