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
import { Command, Option, UsageError } from "clipanion";
import { UINT32_MAX, wholeNumber } from "./argv.js";
import { TesseraCommand } from "./base.js";
import { InputError } from "./errors.js";
import { existsSync, readFileSync } from "node:fs";
import type { Agent } from "../src/agent/agent.js";
import { NodeCredentials } from "../src/agent/credentials.js";
import { checkPassEnv, type Executor } from "../src/agent/executor.js";
import { MultiExecutor } from "../src/agent/multi-executor.js";
import { DEFAULT_PIDS_MAX, ProcessExecutor } from "../src/agent/process-executor.js";
import { type SimulatedOptions, SimulatedExecutor } from "../src/agent/simulated-executor.js";
import { PLACEMENT_STRATEGIES } from "../src/core/reconcile/placement.js";
import { isLoopback } from "../src/core/ha/listen-address.js";
import { checkLeaseTiming } from "../src/core/ha/lease.js";
import { DEFAULT_POLICY } from "../src/core/reconcile/reconcile.js";
import type { Logger } from "../src/shell/logger.js";
import type { NodeLimits, Resources } from "../src/gen/tessera/v1/types.js";
import { type LimitFlags, processLimits } from "./agent-limits.js";
import { caHashOf } from "../src/shell/ca-hash.js";
import { parseAddressList } from "../src/core/ha/control-addresses.js";
import { DEFAULT_DNS_LISTEN, DEFAULT_LISTEN, DEFAULT_METRICS_LISTEN, defaultControl, defaultDataDir, localFile, readTrimmed } from "./defaults.js";
import { type ConfigSchema, loadConfig, pick } from "./config.js";
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

/** What a process executor is given: what passes from the agent's environment, how copies are limited. */
interface ProcessFlags {
  passEnv: string[];
  limits: LimitFlags;
}

const DEFAULT_PROCESS_FLAGS: ProcessFlags = { passEnv: [], limits: { cgroups: "auto", pidsLimit: undefined, allowUnenforced: false } };

/**
 * Executors from `--executor process,docker` (simulated stands alone), and with a process
 * executor, whether it enforces limits (what the hello says; unset without one).
 */
async function makeExecutor(kinds: string, node: string, dataDir: string, log: Logger, simulated: SimulatedOptions = {}, proc = DEFAULT_PROCESS_FLAGS): Promise<{ executor: Executor; limits?: NodeLimits }> {
  const list = kinds.split(",").map((k) => k.trim());
  const executors: Executor[] = [];
  let limits: NodeLimits | undefined;
  for (const kind of list) {
    switch (kind) {
      case "process": {
        const held = processLimits(proc.limits, node, dataDir, log);
        limits = held.limits;
        executors.push(new ProcessExecutor(join(dataDir, "agent"), node, { passEnv: proc.passEnv, cgroups: held.cgroups, pidsMax: held.pidsMax }));
        break;
      }
      case "docker": {
        const { DockerExecutor } = await import("../src/agent/docker-executor.js");
        const docker = new DockerExecutor(node, join(dataDir, "agent"));
        await docker.ping().catch((err: Error) => {
          throw new UsageError(`--executor docker: ${err.message}`);
        });
        executors.push(docker);
        break;
      }
      case "simulated":
        if (list.length > 1) throw new UsageError("--executor: simulated cannot be combined with real executors");
        executors.push(new SimulatedExecutor(simulated));
        break;
      default:
        throw new UsageError(`--executor: expected process, docker or simulated (comma-separated), got "${kind}"`);
    }
  }
  return { executor: new MultiExecutor(executors), limits };
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

const REINITIALIZE_HELP =
  "when the data dir's database is refused (emptied, replaced, another cluster's, damaged): move it aside and start this cluster over with an empty state, keeping its CA and tokens";

const CONTROL_CONFIG: ConfigSchema = {
  listen: "string",
  "data-dir": "string",
  store: "string",
  placement: "string",
  "suspect-after": "string",
  "offline-after": "string",
  "start-grace": "string",
  tick: "string",
  "metrics-listen": "string",
  advertise: "strings",
  insecure: "boolean",
  "lease-ttl": "string",
  "lease-renew": "string",
  "ca-secret-file": "string",
  "snapshot-every": "string",
  "snapshot-keep": "string",
};

const HOST_VOLUME_HELP =
  "a directory copies on this node may use, NAME=PATH (:ro appended: read-only), named by workloads' spec.volumes; containers get it mounted, processes its path in TESSERA_VOLUME_<NAME> (repeatable)";

const AGENT_CONFIG: ConfigSchema = {
  control: "list",
  name: "string",
  simulated: "boolean",
  executor: "string",
  "data-dir": "string",
  label: "strings",
  "cpu-millis": "string",
  "memory-mb": "string",
  heartbeat: "string",
  "advertise-address": "string",
  "port-range": "string",
  "reserved-ports": "strings",
  "host-volume": "strings",
  "pass-env": "strings",
  cgroups: "string",
  "pids-limit": "string",
  "allow-unenforced-limits": "boolean",
  "dns-listen": "string",
  "join-token": "string",
  "ca-hash": "string",
  "ca-file": "string",
  insecure: "boolean",
  "sim-start-delay": "string",
  "sim-failure-rate": "string",
};

export class ControlCommand extends TesseraCommand {
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
  config = Option.String("--config", { description: "TOML file whose keys mirror these flags (e.g. offline-after = \"10s\")" });
  listen = Option.String("--listen", { description: `host:port to serve gRPC on (default ${DEFAULT_LISTEN})` });
  dataDir = Option.String("--data-dir", { description: "state directory, only its owner's (made 0700; one others can use is refused) (default $TESSERA_DATA_DIR or ~/.tessera)" });
  store = Option.String("--store", {
    description: "keep the cluster's state in PostgreSQL, postgres://USER@HOST:PORT/DB (default $TESSERA_STORE; unset: SQLite in the data dir); give a URL with a password through $TESSERA_STORE, not on a command line others can read",
  });
  placement = Option.String("--placement", { description: "placement strategy: spread (default) or binpack" });
  suspectAfter = Option.String("--suspect-after", { description: "heartbeat silence after which a node is Suspect (default 3s)" });
  offlineAfter = Option.String("--offline-after", { description: "heartbeat silence after which a node is Offline and its instances replaced (default 5s)" });
  startGrace = Option.String("--start-grace", {
    description: "after a start, how long nodes not heard yet have to reconnect before their silence counts (default 10s): a restart must not replace what kept running",
  });
  tick = Option.String("--tick", { description: "interval of the periodic reconcile pass (default 2s)" });
  metricsListen = Option.String("--metrics-listen", { description: `host:port for the web page (/), /metrics, /healthz, /readyz; HTTPS beyond loopback (default ${DEFAULT_METRICS_LISTEN}; "" turns it off)` });
  leaseTtl = Option.String("--lease-ttl", {
    description: "with --store postgres://…: how long the leader's lease lasts on the database's clock; a standby takes over this long after the leader is gone (default 5s)",
  });
  caSecretFile = Option.String("--ca-secret-file", {
    description:
      "with --store postgres://… (required there): a file holding the secret, at least 16 characters, that seals the cluster CA's key in the database; the same for every control plane on it (default: the secret itself in $TESSERA_CA_SECRET)",
  });
  leaseRenew = Option.String("--lease-renew", { description: "with --store postgres://…: how often the leader renews its lease and a standby tries to take it (and catches up with the leader's commits, should a notification of one be lost), at most a third of --lease-ttl (default 1s)" });
  insecure = Option.Counter("--insecure", { description: "plaintext and no credentials (every gRPC caller is admin; the web page is read-only); only on a loopback address unless given twice" });
  advertise = Option.Array("--advertise", { description: "another name or address agents dial (repeatable); goes into the server certificate, and the first names a wildcard --listen to the other control planes (default: the host's first IPv4 address)" });
  // A flag only, not a --config key: it is a one-off act, not a setting to leave in a file.
  reinitialize = Option.Boolean("--reinitialize", false, { description: REINITIALIZE_HELP });
  snapshotEvery = Option.String("--snapshot-every", { description: "while leading on SQLite, save a snapshot into DATA_DIR/snapshots this often (default 12h; 0 turns it off)" });
  snapshotKeep = Option.String("--snapshot-keep", { description: "how many scheduled snapshots to keep, the newest (default 5)" });
  restore = Option.String("--restore", { description: "start from a snapshot (`tessera ctl snapshot save`): its database, CA and token files go into --data-dir, which must hold no database; a truncated or damaged file is refused" });

  async run() {
    const log = processLogger("control");
    const cfg = this.config ? loadConfig(this.config, CONTROL_CONFIG) : {};
    const placementName = pick(this.placement, cfg, "placement", "spread");
    const placement = PLACEMENT_STRATEGIES.find((p) => p === placementName);
    if (!placement) throw new UsageError(`--placement: expected ${PLACEMENT_STRATEGIES.join(" or ")}, got "${placementName}"`);
    const suspectAfterMs = parseDuration(pick(this.suspectAfter, cfg, "suspect-after", "3s"), "--suspect-after");
    const offlineAfterMs = parseDuration(pick(this.offlineAfter, cfg, "offline-after", "5s"), "--offline-after");
    if (offlineAfterMs <= suspectAfterMs) throw new UsageError("--offline-after: expected a longer silence than --suspect-after");
    const startGraceMs = parseDuration(pick(this.startGrace, cfg, "start-grace", "10s"), "--start-grace");
    const lease = { ttlMs: parseDuration(pick(this.leaseTtl, cfg, "lease-ttl", "5s"), "--lease-ttl"), renewMs: parseDuration(pick(this.leaseRenew, cfg, "lease-renew", "1s"), "--lease-renew") };
    const badLease = checkLeaseTiming(lease);
    if (badLease) throw new UsageError(badLease);
    const { startControlPlane } = await import("../src/control/lifecycle/server.js");
    const dataDir = pick(this.dataDir, cfg, "data-dir", defaultDataDir());
    if (this.restore !== undefined) await restoreInto(this.restore, dataDir, pick(this.store, cfg, "store", process.env.TESSERA_STORE ?? "") !== "", log);
    // The CA and token files are in place once it leads: on PostgreSQL a first control plane
    // writes them only then. The banner waits for that (a standby that never leads shows none).
    let leading!: () => void;
    const led = new Promise<void>((resolve) => (leading = resolve));
    const cp = await startControlPlane({
      onLead: () => leading(),
      lease,
      listen: pick(this.listen, cfg, "listen", DEFAULT_LISTEN),
      dataDir,
      store: pick(this.store, cfg, "store", process.env.TESSERA_STORE ?? "") || undefined,
      log,
      policy: { ...DEFAULT_POLICY, placement, suspectAfterMs, offlineAfterMs, startGraceMs },
      tickMs: parseDuration(pick(this.tick, cfg, "tick", "2s"), "--tick"),
      metricsListen: pick(this.metricsListen, cfg, "metrics-listen", DEFAULT_METRICS_LISTEN) || undefined,
      insecure: insecureAllowed(this.insecure ?? (cfg.insecure === true ? 1 : 0), pick(this.listen, cfg, "listen", DEFAULT_LISTEN)),
      advertise: pick(this.advertise, cfg, "advertise", []),
      reinitialize: this.reinitialize,
      snapshots: snapshotSchedule(pick(this.snapshotEvery, cfg, "snapshot-every", "12h"), pick(this.snapshotKeep, cfg, "snapshot-keep", "5")),
      caSecret: readCaSecret(this.caSecretFile ?? (cfg["ca-secret-file"] as string | undefined)),
    });
    const secure = !(this.insecure ?? cfg.insecure === true);
    void led.then(() => {
      if (secure) announceSecurity(pick(this.dataDir, cfg, "data-dir", defaultDataDir()), this.context.stdout);
      announceWeb(cp.webUrl, pick(this.dataDir, cfg, "data-dir", defaultDataDir()), secure, this.context.stdout);
    });
    const signal = await untilSignal();
    log.info("stopping", { signal });
    await cp.stop();
    return 0;
  }
}

export class AgentCommand extends TesseraCommand {
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
  config = Option.String("--config", { description: "TOML file whose keys mirror these flags (e.g. name = \"node-a\", label = [\"zone=a\"])" });
  control = Option.String("--control", {
    description: "control plane host:port, or several (a:7700,b:7700,c:7700): the agent finds the leader among them and moves to the next when it goes (default $TESSERA_CONTROL or 127.0.0.1:7700)",
  });
  name = Option.String("--name", { description: "this node's name, unique in the fleet (required, here or in --config)" });
  simulated = Option.Boolean("--simulated", { description: "run nothing for real (same as --executor simulated)" });
  executor = Option.String("--executor", { description: "process (default), docker, or both (process,docker); or simulated" });
  dataDir = Option.String("--data-dir", { description: "where instance records and logs go, one agent's own, only its owner's (made 0700; one others can use is refused) (default $TESSERA_DATA_DIR or ~/.tessera)" });
  labels = Option.Array("--label", { description: "node label key=value (repeatable), matched by node_selector and by placement spread and affinity" });
  cpuMillis = Option.String("--cpu-millis", { description: "CPU offered, in millicores (default: all cores)" });
  memoryMb = Option.String("--memory-mb", { description: "memory offered, in MiB (default: all memory)" });
  heartbeat = Option.String("--heartbeat", { description: "interval between heartbeats (default 1s)" });
  advertiseAddress = Option.String("--advertise-address", { description: "IPv4 address copies on this node are reached at (default: the host's first non-loopback IPv4 address)" });
  portRange = Option.String("--port-range", { description: "range dynamic ports are taken from (default 20000-32000)" });
  reservedPorts = Option.Array("--reserved-ports", { description: "ports or ranges never given to copies, e.g. 22,8000-8100 (repeatable)" });
  hostVolumes = Option.Array("--host-volume", { description: HOST_VOLUME_HELP });
  passEnv = Option.Array("--pass-env", {
    description: "a variable of the agent's environment that process copies, their checks and exec get too (repeatable); otherwise they get only PATH, HOME, LANG and their own TESSERA_ variables",
  });
  cgroups = Option.String("--cgroups", {
    description: "auto (default): hold each process copy to the resources its spec states and a pids limit, in a cgroup of its own (v2, else v1); off: do not (the node then says limits: not enforced)",
  });
  pidsLimit = Option.String("--pids-limit", { description: `most processes a process copy may have at once, with cgroups (default ${DEFAULT_PIDS_MAX})` });
  allowUnenforcedLimits = Option.Boolean("--allow-unenforced-limits", {
    description: "where this agent cannot enforce limits (no usable cgroups, or --cgroups off), still take process copies whose spec states resources (otherwise they are placed elsewhere)",
  });
  dnsListen = Option.String("--dns-listen", {
    description: `host:port to answer DNS on for tessera. names: A for <workload>.tessera, SRV for _<port>._<tcp|udp>.<workload>.tessera, from the control plane's endpoints (default ${DEFAULT_DNS_LISTEN}; "" turns it off)`,
  });
  simStartDelay = Option.String("--sim-start-delay", { description: "simulated executor: time a start takes (default 0ms)" });
  simFailureRate = Option.String("--sim-failure-rate", { description: "simulated executor: share of starts that fail, 0 to 1 (default 0)" });
  joinToken = Option.String("--join-token", { description: "to enroll this node (default: the local control plane's data dir join-token)" });
  caHash = Option.String("--ca-hash", { description: "sha256:... of the control plane's CA, to trust it on first contact" });
  caFile = Option.String("--ca-file", { description: "the control plane's CA certificate (default: the local data dir's pki/ca.pem)" });
  insecure = Option.Boolean("--insecure", { description: "plaintext, for a control plane started with --insecure" });

  async run() {
    const cfg = this.config ? loadConfig(this.config, AGENT_CONFIG) : {};
    const name = pick(this.name, cfg, "name", "");
    if (name === "") throw new UsageError("--name: required (or `name` in --config): this node's name");
    const log = processLogger("agent").with({ node: name });
    const kind = pick(this.simulated, cfg, "simulated", false) ? "simulated" : pick(this.executor, cfg, "executor", "process");
    const failureRate = Number(pick(this.simFailureRate, cfg, "sim-failure-rate", "0"));
    if (!(failureRate >= 0 && failureRate <= 1)) throw new UsageError(`--sim-failure-rate: expected a number from 0 to 1, got "${this.simFailureRate}"`);
    // Copies' logs and the node's key are for its owner only.
    ensurePrivateDir(pick(this.dataDir, cfg, "data-dir", defaultDataDir()), "--data-dir");
    const passEnv = pick(this.passEnv, cfg, "pass-env", []);
    const badPassEnv = checkPassEnv(passEnv);
    if (badPassEnv) throw new UsageError(badPassEnv);
    const simulated = { startDelayMs: parseDuration(pick(this.simStartDelay, cfg, "sim-start-delay", "0ms"), "--sim-start-delay"), failureRate };
    const limitFlags = {
      cgroups: pick(this.cgroups, cfg, "cgroups", "auto"),
      pidsLimit: this.pidsLimit ?? (cfg["pids-limit"] as string | undefined),
      allowUnenforced: pick(this.allowUnenforcedLimits, cfg, "allow-unenforced-limits", false),
    };
    const { executor, limits } = await makeExecutor(kind, name, pick(this.dataDir, cfg, "data-dir", defaultDataDir()), log, simulated, { passEnv, limits: limitFlags });
    const cpu = this.cpuMillis ?? (cfg["cpu-millis"] as string | undefined);
    const mem = this.memoryMb ?? (cfg["memory-mb"] as string | undefined);
    const control = pick(this.control, cfg, "control", defaultControl());
    const addresses = parseAddressList(control, "--control");
    if (!addresses.ok) throw new UsageError(addresses.error);
    const agentDir = pick(this.dataDir, cfg, "data-dir", defaultDataDir());
    const insecure = pick(this.insecure, cfg, "insecure", false);
    const caFile = this.caFile ?? (cfg["ca-file"] as string | undefined) ?? localFile("pki", "ca.pem");
    const { Agent } = await import("../src/agent/agent.js");
    const agent = new Agent({
      control,
      credentials: insecure
        ? undefined
        : new NodeCredentials(agentDir, name, control, {
            caPem: readTrimmed(caFile),
            caHash: this.caHash ?? (cfg["ca-hash"] as string | undefined),
            joinToken: this.joinToken ?? (cfg["join-token"] as string | undefined) ?? readTrimmed(localFile("join-token")),
          }),
      node: name,
      executor,
      limits,
      version: VERSION,
      log,
      labels: parseLabels(pick(this.labels, cfg, "label", [])),
      capacity: detectCapacity(kind === "simulated", cpu, mem),
      ports: parseNodePorts(
        this.advertiseAddress ?? (cfg["advertise-address"] as string | undefined),
        this.portRange ?? (cfg["port-range"] as string | undefined),
        pick(this.reservedPorts, cfg, "reserved-ports", []),
      ),
      hostVolumes: parseHostVolumes(pick(this.hostVolumes, cfg, "host-volume", [])),
      heartbeatMs: parseDuration(pick(this.heartbeat, cfg, "heartbeat", "1s"), "--heartbeat"),
      dnsListen: pick(this.dnsListen, cfg, "dns-listen", DEFAULT_DNS_LISTEN) || undefined,
      // A simulated agent runs nothing and keeps nothing there but its certificate (named by node).
      dataDir: kind === "simulated" ? undefined : agentDir,
    });
    return runAgent(agent, log, false);
  }
}

export class DevCommand extends TesseraCommand {
  static paths = [["dev"]];
  static usage = Command.Usage({
    category: "Servers",
    description: "run a control plane and one local agent (process executor) in one process",
    details: "Zero configuration: listens on 127.0.0.1:7700, keeps state in $TESSERA_DATA_DIR or ~/.tessera, names its node node-a. Ctrl-C stops everything it started.",
    examples: [["Start it, then use `tessera ctl` from another terminal", "tessera dev"]],
  });
  listen = Option.String("--listen", DEFAULT_LISTEN, { description: "host:port to serve gRPC on" });
  dataDir = Option.String("--data-dir", { description: "state directory, only its owner's (made 0700; one others can use is refused) (default $TESSERA_DATA_DIR or ~/.tessera)" });
  name = Option.String("--name", "node-a", { description: "the local node's name" });
  reinitialize = Option.Boolean("--reinitialize", false, { description: REINITIALIZE_HELP });
  hostVolumes = Option.Array("--host-volume", [], { description: HOST_VOLUME_HELP });
  dnsListen = Option.String("--dns-listen", {
    description: `host:port to answer DNS on for tessera. names: A for <workload>.tessera, SRV for _<port>._<tcp|udp>.<workload>.tessera, from the control plane's endpoints (default ${DEFAULT_DNS_LISTEN}; "" turns it off)`,
  });

  async run() {
    const log = processLogger("dev");
    const dataDir = this.dataDir ?? defaultDataDir();
    const [{ startControlPlane }, { Agent }] = await Promise.all([import("../src/control/lifecycle/server.js"), import("../src/agent/agent.js")]);
    const cp = await startControlPlane({
      listen: this.listen,
      dataDir,
      log: log.with({ component: "control" }),
      metricsListen: DEFAULT_METRICS_LISTEN,
      reinitialize: this.reinitialize,
    });
    const agentLog = log.with({ component: "agent", node: this.name });
    // A sandbox on one machine, often not run as root: copies that state resources run there
    // unlimited (it says so at start) rather than wait for ever for a node that enforces them.
    const sandbox = { ...DEFAULT_PROCESS_FLAGS, limits: { ...DEFAULT_PROCESS_FLAGS.limits, allowUnenforced: true } };
    const { executor, limits } = await makeExecutor("process", this.name, dataDir, agentLog, {}, sandbox);
    const agent = new Agent({
      control: cp.address,
      node: this.name,
      executor,
      limits,
      version: VERSION,
      log: agentLog,
      labels: {},
      capacity: detectCapacity(false, undefined, undefined),
      // A sandbox on this machine: its copies are reached on loopback.
      ports: parseNodePorts("127.0.0.1", undefined, []),
      hostVolumes: parseHostVolumes(this.hostVolumes),
      credentials: new NodeCredentials(dataDir, this.name, cp.address, { caPem: readTrimmed(join(dataDir, "pki", "ca.pem")), joinToken: readTrimmed(join(dataDir, "join-token")) }),
      dnsListen: (this.dnsListen ?? DEFAULT_DNS_LISTEN) || undefined,
      dataDir,
    });
    this.context.stdout.write(`tessera dev: control plane on ${cp.address}, node ${this.name}. Try: tessera ctl get nodes\n`);
    announceWeb(cp.webUrl, dataDir, true, this.context.stdout);
    const code = await runAgent(agent, agentLog, true);
    await cp.stop();
    return code;
  }
}


/** `--restore FILE`: the snapshot's files into the data dir, before the control plane opens it. */
async function restoreInto(file: string, dataDir: string, postgres: boolean, log: ReturnType<typeof processLogger>): Promise<void> {
  if (postgres) throw new UsageError("--restore: snapshots are of the SQLite store; on PostgreSQL restore the database's own backup");
  const { restoreSnapshot } = await import("../src/control/store/snapshot-file.js");
  try {
    const meta = restoreSnapshot(file, dataDir);
    log.info("restored from a snapshot", { file, cluster: meta.clusterId, sequence: meta.sequence, takenAt: meta.takenAt });
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
