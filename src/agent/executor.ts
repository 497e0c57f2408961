/** What an executor is: something that starts and stops one instance's work. */
import { expandSpec, identityEnvironment, portEnvironment } from "../core/model/port-env.js";
import type { FileOwner } from "../core/model/file-owner.js";
import type { AssignedPort } from "../core/model/ports.js";
import { type VolumeMount, volumeEnvironment } from "../core/model/volumes.js";
import type { WorkloadSpec } from "../gen/tessera/v1/types.js";
import type { ProbeTarget } from "./checks.js";
import type { CopySecrets } from "./secret-files.js";

export interface StartRequest {
  instanceId: string;
  name: string;
  workload: string;
  generation: number;
  spec: WorkloadSpec;
  /** The host ports placement gave it. */
  ports: AssignedPort[];
  /** The node's advertised address. */
  hostIp: string;
  /** Its spec's volumes, host volumes resolved to this node's paths (host-volumes.ts). */
  mounts: VolumeMount[];
  /** Its secret_env values, and where its secret and config files are (secret-files.ts); absent: none. */
  secrets?: CopySecrets;
}

/** A copy's own TESSERA_ variables: which copy it is, its ports, its volumes (what its args and template configs may name). */
export function copyVariables(req: Omit<StartRequest, "secrets">): Record<string, string> {
  return {
    ...identityEnvironment(req.spec, req),
    ...portEnvironment(req.ports, req.hostIp),
    ...volumeEnvironment(req.mounts, req.spec.image !== ""),
  };
}

/** What a copy runs with: its spec's env plus its own variables, and its args and working dir with those expanded. */
export function copyEnvironment(req: StartRequest): { env: Record<string, string>; args: string[]; workingDir: string } {
  const vars = copyVariables(req);
  const expanded = expandSpec(req.spec, vars);
  // A process is told where its files are; a container finds them at their mount paths.
  const dirs: Record<string, string> = req.secrets?.dirs && req.spec.image === "" ? { TESSERA_SECRETS_DIR: req.secrets.dirs.secrets, TESSERA_CONFIGS_DIR: req.secrets.dirs.configs } : {};
  return { env: { ...expanded.env, ...req.secrets?.env, ...dirs, ...vars }, args: expanded.args, workingDir: expanded.workingDir };
}

/** The agent's variables every process copy gets: enough to find programs, a home and a locale. */
const BASE_ENVIRONMENT = ["PATH", "HOME", "LANG"];
/** A copy's PATH when the agent has none. */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * What a process copy (and its checks and `exec`) gets of the agent's environment: PATH, HOME,
 * LANG and the variables its operator passes through (--pass-env), nothing else. An agent is
 * often started with secrets in its environment (TESSERA_CA_SECRET, a TESSERA_STORE URL with a
 * password, cloud keys) that a copy must not see and could write to its log; the only
 * TESSERA_ variables a copy sees are those documented for it (copyEnvironment).
 */
export function hostEnvironment(passEnv: readonly string[] = [], from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const name of [...BASE_ENVIRONMENT, ...passEnv]) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** --pass-env NAME: a variable name, never a TESSERA_ one (those are the agent's own settings and secrets). */
export function checkPassEnv(names: readonly string[], flag = "--pass-env"): string | undefined {
  for (const name of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `${flag}: expected an environment variable name (letters, digits, _), got "${name}"`;
    if (name.startsWith("TESSERA_")) return `${flag}: ${name} is one of the agent's own settings, never passed to copies (a copy gets its own TESSERA_ variables)`;
  }
  return undefined;
}

/** A copy's usage counters: CPU time in all (a rate needs two samples), memory now. */
export interface CopyCounters {
  instanceId: string;
  cpuNanos: number;
  memoryBytes: number;
}

export interface Exit {
  exitCode: number | null;
  signal: string | null;
  /** The last lines it wrote to stderr, bounded by boundStderrTail; unset when unknown. */
  stderrTail?: string;
  /** Set when the kernel's OOM killer ended it at its memory limit (this many MiB). */
  oomKilledAtMb?: number;
}

/** A started instance. */
export interface Running {
  /** Resolves when the work ends, for whatever reason. */
  exited: Promise<Exit>;
  /** Asks it to end: SIGTERM (or equivalent), then kill after `gracePeriodMs`. Resolves on exit. */
  stop(gracePeriodMs: number): Promise<Exit>;
  /** Sends the copy's own process (a container's first) a signal, e.g. SIGHUP when its secrets were refreshed; rejects when it cannot. */
  signal(name: NodeJS.Signals): Promise<void>;
}

export interface LogRequest {
  instanceId: string;
  /** At most this many last lines first; 0 means all. */
  tail: number;
  /** Keep reading new output until `signal` aborts. */
  follow: boolean;
  signal: AbortSignal;
  /** Receives lines in order, without newlines. */
  emit(lines: string[]): void;
}

/** A command to run in a running instance's environment (`tessera ctl exec`). */
export interface ExecRequest {
  instanceId: string;
  /** The program and its arguments; at least one. */
  command: string[];
  /** Whether stdin comes (through ExecProcess.write); otherwise the command's stdin is empty. */
  stdin: boolean;
  /** Receives what the command writes, in order per stream. */
  output(stream: "stdout" | "stderr", data: Uint8Array): void;
}

/** A command started by Executor.exec. */
export interface ExecProcess {
  /** Resolves when it has ended and all its output was passed to `output`. */
  exited: Promise<Exit>;
  write(data: Uint8Array): void;
  /** Its stdin ends. */
  endInput(): void;
  /** Delivers a signal to it (e.g. "SIGINT"); nothing when it has ended. */
  signal(name: NodeJS.Signals): void;
}

/**
 * An instance found running (or found ended) when the agent starts: every instance a previous
 * run may have started is one of these, those whose start a crash cut short included.
 */
export interface Adopted {
  instanceId: string;
  /** 0 when the executor lost it (an unreadable record); such an instance is then ended, never running. */
  generation: number;
  /** Set when it still runs. */
  running?: Running;
  /** Set when it ended while the agent was away. */
  exit?: Exit;
  /** Set when it was recorded for another node (an agent of another name on this data dir): left alone. */
  otherNode?: string;
}

export interface Executor {
  /** What it runs: "process", "docker", "simulated" (or several, for a composite). */
  readonly kinds: string[];
  /** Finds the instances a previous run of this agent left behind: running ones are taken over, the rest reported ended. */
  adopt(): Promise<Adopted[]>;
  /** Starts the work; rejects with a clear reason when it cannot. */
  start(req: StartRequest): Promise<Running>;
  /** Whose a copy's secret and config files must be for it to read them (a container's numeric USER); absent or undefined: the agent's. */
  fileOwner?(req: StartRequest): Promise<FileOwner | undefined>;
  /** Where and how readiness checks probe an instance; undefined when checks are simulated (they pass). */
  probeTarget(req: StartRequest): Promise<ProbeTarget | undefined>;
  /** Periodic upkeep, such as rotating log files. */
  housekeeping(): void;
  /** What its running copies have used, for those it can measure (none for simulated ones). */
  usage(): Promise<CopyCounters[]>;
  /** Reads an instance's recorded output; resolves when done (or aborted), rejects when it cannot. */
  readLogs(req: LogRequest): Promise<void>;
  /**
   * Runs a command in a running instance's environment; rejects when it cannot (no such
   * instance running here). A program that cannot be found is not a rejection: like a shell,
   * the command says so on stderr and exits 127 (Docker's engine: 126, as `docker exec`).
   */
  exec(req: ExecRequest): Promise<ExecProcess>;
}

/** readLogs of a copy this node has no output of (never ran here, or its kept output is gone). */
export class NoOutputRecorded extends Error {
  constructor(
    readonly instanceId: string,
    /** What the executor found instead, when it says more (a container's removal). */
    readonly detail = "",
  ) {
    super(`no output recorded for copy ${instanceId} on this node${detail ? ` (${detail})` : ""}`);
  }

  /** The message as its agent sends it: the node named, since the reader is elsewhere. */
  onNode(node: string): string {
    return `no output recorded for copy ${this.instanceId} on node ${node}${this.detail ? ` (${this.detail})` : ""}`;
  }
}

/** Splits text into complete lines; returns them and the unfinished rest. */
export function splitLines(carry: string, text: string): { lines: string[]; rest: string } {
  const parts = (carry + text).split("\n");
  const rest = parts.pop()!;
  return { lines: parts, rest };
}

/** How an exit reads in a failure reason. */
export function describeExit(exit: Exit): string {
  if (exit.oomKilledAtMb !== undefined) return `OOM killed (memory limit ${exit.oomKilledAtMb} MiB)`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.exitCode}`;
}
