/**
 * Runs workloads as local processes.
 *
 * Each instance runs under a small /bin/sh shim, the leader of its own process group: the
 * shim appends the output to the instance's log file (O_APPEND, so rotation by copy and
 * truncate is safe), runs the command, and writes its exit status to a file. Its stderr also
 * goes to a file of its own, whose last lines a failure report carries (see shim.ts). An intent is
 * recorded before the spawn and completed with the shim's pid and start time after, so an
 * agent restarted after kill -9 adopts what still runs (found by its command line when the
 * crash came between spawn and pid) and reads how the rest ended. Each record names the node
 * it was made for: an agent never adopts another node's copies.
 * With cgroups (cgroups.ts), each copy joins a cgroup of its own before its command runs
 * (shim.ts joinCgroups), which holds it to the resources its spec states and a pids limit, says
 * whether the OOM killer ended it, and measures it; the cgroup goes when the copy has ended.
 * Stop = SIGTERM to the group, SIGKILL after the grace period. Once a copy has ended and how
 * is read, its status and stderr files go and its log is handed to ended-logs.ts, which keeps
 * the newest for `ctl logs --previous`: nothing a copy leaves outlives that retention.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { boundStderrTail, STDERR_TAIL_BYTES } from "../core/output/stderr-tail.js";
import type { ProbeTarget } from "./checks.js";
import { EndedLogs, MAX_LOG_BYTES } from "./ended-logs.js";
import { type Adopted, copyEnvironment, type CopyCounters, type ExecProcess, type ExecRequest, type Executor, type Exit, hostEnvironment, type LogRequest, NoOutputRecorded, type Running, type StartRequest } from "./executor.js";
import { InstanceRecords } from "./instance-records.js";
import { followLog, readLastBytes } from "./output-file.js";
import { assertPortsFree } from "./port-check.js";
import { spawnExec } from "./process-exec.js";
import type { Cgroups } from "./cgroups.js";
import { copyProcesses, environmentOf, joinCgroups, liveShims, shimCommand, signalGroup, startTimeOf, untilShim } from "./shim.js";
/** Where a check reaches a copy that was told no address. */
const LOOPBACK = "127.0.0.1";
/** How often a followed log file, or an adopted process, is checked. */
const POLL_MS = 200;

/** How much of the end of a stderr file is read for a tail (boundStderrTail keeps less). */
const STDERR_READ_BYTES = 4 * STDERR_TAIL_BYTES;

export interface ProcessExecutorOptions {
  /** A log file larger than this is rotated (one previous file kept); an ended copy's is cut to this. */
  maxLogBytes?: number;
  /** Variables of the agent's environment its copies get besides PATH, HOME and LANG (--pass-env). */
  passEnv?: readonly string[];
  /** Where copies are held to their limits; unset: limits are not enforced (the agent said why at start). */
  cgroups?: Cgroups;
  /** Each copy's pids limit, with cgroups (--pids-limit). */
  pidsMax?: number;
}

/** A copy's pids limit when the agent is given none: room for any ordinary service, not for a fork bomb. */
export const DEFAULT_PIDS_MAX = 4096;

interface Record {
  instanceId: string;
  generation: number;
  /** The node it was started for; unset in records of agents from before nodes were recorded. */
  node?: string;
  /** Unset in an intent (written before the spawn). */
  pid?: number;
  /** Kernel start time of the pid (clock ticks since boot): tells a reused pid apart. */
  startTime?: string;
}

export class ProcessExecutor implements Executor {
  readonly kinds = ["process"];
  private readonly logDir: string;
  private readonly runDir: string;
  private readonly records: InstanceRecords<Record>;
  private readonly maxLogBytes: number;
  private readonly endedLogs: EndedLogs;
  private readonly passEnv: readonly string[];
  private readonly cgroups: Cgroups | undefined;
  private readonly pidsMax: number;

  constructor(
    dataDir: string,
    /** This agent's node name: recorded with each copy, and only copies recorded for it are adopted. */
    private readonly node: string,
    opts: ProcessExecutorOptions = {},
  ) {
    this.logDir = join(dataDir, "logs");
    this.runDir = join(dataDir, "instances");
    this.records = new InstanceRecords(this.runDir);
    this.maxLogBytes = opts.maxLogBytes ?? MAX_LOG_BYTES;
    this.endedLogs = new EndedLogs(dataDir, this.maxLogBytes);
    this.passEnv = opts.passEnv ?? [];
    this.cgroups = opts.cgroups;
    this.pidsMax = opts.pidsMax ?? DEFAULT_PIDS_MAX;
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
  }

  private logPath(instanceId: string): string {
    return join(this.logDir, `${instanceId}.log`);
  }

  private statusPath(instanceId: string): string {
    return join(this.runDir, `${instanceId}.status`);
  }

  private stderrPath(instanceId: string): string {
    return join(this.runDir, `${instanceId}.stderr`);
  }

  /** The end of what the instance wrote to stderr, bounded; unset when it left no file. */
  private stderrTail(instanceId: string): string | undefined {
    try {
      return boundStderrTail(readLastBytes(this.stderrPath(instanceId), STDERR_READ_BYTES).toString("utf8"));
    } catch {
      return undefined;
    }
  }

  /**
   * What an ended copy leaves once how it ended is read: its status and stderr files go, its
   * log (the rotated part of which `logs` never read) is kept with the ended copies' output.
   * Never throws: how the copy ended is reported regardless, and what a full disk left behind
   * is released again at the next start (releaseLeftovers).
   */
  private release(instanceId: string, endedAt: number): void {
    try {
      rmSync(this.statusPath(instanceId), { force: true });
      rmSync(this.stderrPath(instanceId), { force: true });
      rmSync(`${this.logPath(instanceId)}.1`, { force: true });
      this.endedLogs.keepFile(instanceId, this.logPath(instanceId), endedAt);
    } catch {
      // Left for the next start.
    }
  }

  async start(req: StartRequest): Promise<Running> {
    const spec = req.spec;
    rmSync(this.statusPath(req.instanceId), { force: true });
    rmSync(this.stderrPath(req.instanceId), { force: true });
    if (!existsSync(spec.command)) throw new Error(`cannot start ${spec.command}: no such file`);
    // A container's published port is checked by the engine, whose error names it.
    await assertPortsFree(req.ports, req.hostIp);
    const intent: Record = { instanceId: req.instanceId, generation: req.generation, node: this.node };
    this.records.write(intent);
    // What a copy prints may hold its secrets: the shim appends to files made for the owner only.
    for (const path of [this.logPath(req.instanceId), this.stderrPath(req.instanceId)]) closeSync(openSync(path, "a", 0o600));
    let proc: ReturnType<typeof Bun.spawn>;
    try {
      const copy = copyEnvironment(req);
      const files = { log: this.logPath(req.instanceId), status: this.statusPath(req.instanceId), stderr: this.stderrPath(req.instanceId) };
      // Only limits the spec states are enforced: the defaults placement reserves for a spec
      // without resources are a guess, not a promise about what the copy needs.
      const limits = { memoryMb: spec.resources?.memoryMb ?? 0, cpuMillis: spec.resources?.cpuMillis ?? 0, pidsMax: this.pidsMax };
      const run = joinCgroups(this.cgroups?.create(req.instanceId, limits) ?? [], spec.command, copy.args);
      proc = Bun.spawn(shimCommand(files, run.command, run.args), {
        cwd: copy.workingDir || undefined,
        env: { ...hostEnvironment(this.passEnv), ...copy.env },
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
        detached: true,
      });
    } catch (err) {
      this.records.remove(req.instanceId);
      await this.cgroups?.remove(req.instanceId);
      throw new Error(`cannot start ${spec.command}: ${(err as Error).message}`);
    }
    try {
      this.records.write({ ...intent, pid: proc.pid, startTime: startTimeOf(proc.pid) ?? "" });
    } catch (err) {
      // A copy this agent reports as failed must not run on.
      signalGroup(proc.pid, "SIGKILL");
      throw new Error(`cannot record the start of ${req.instanceId}: ${(err as Error).message}`);
    }
    const exited: Promise<Exit> = proc.exited.then(() => this.ended(req.instanceId, proc.signalCode ? String(proc.signalCode) : null, proc.exitCode));
    return this.handle(proc.pid, exited);
  }

  /** Stop handle for a process group whose end `exited` reports. */
  private handle(pid: number, exited: Promise<Exit>): Running {
    return {
      exited,
      async stop(gracePeriodMs) {
        signalGroup(pid, "SIGTERM");
        const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), gracePeriodMs);
        const exit = await exited;
        clearTimeout(timer);
        // Children that ignored SIGTERM die with the group.
        signalGroup(pid, "SIGKILL");
        return exit;
      },
      // The copy alone: its shim and tee would die of a SIGHUP to the group.
      async signal(name) {
        const copies = copyProcesses(pid);
        if (copies.length === 0) throw new Error("the copy's process is gone");
        for (const copy of copies) process.kill(copy, name);
      },
    };
  }

  /**
   * How an instance ended: the status its shim wrote, else what the kernel said; its stderr's
   * tail; whether its memory limit killed it. What it left running in its cgroup goes with it.
   */
  private async ended(instanceId: string, signal: string | null, code: number | null): Promise<Exit> {
    // Read before the record goes: housekeeping removes the cgroups of copies without one.
    const oomKilledAtMb = this.cgroups?.oomKilledAt(instanceId);
    this.records.remove(instanceId);
    const status = this.readStatus(instanceId);
    const stderrTail = this.stderrTail(instanceId);
    await this.cgroups?.remove(instanceId);
    this.release(instanceId, Date.now());
    const oom = oomKilledAtMb !== undefined ? { oomKilledAtMb } : {};
    if (status !== undefined) return { exitCode: status, signal: null, stderrTail, ...oom };
    return { exitCode: signal ? null : code, signal, stderrTail, ...oom };
  }

  private readStatus(instanceId: string): number | undefined {
    try {
      const n = Number(readFileSync(this.statusPath(instanceId), "utf8").trim());
      return Number.isInteger(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  async adopt(): Promise<Adopted[]> {
    const found: Adopted[] = [];
    const all = this.records.readAll();
    // Another node's copies (an agent started here under another name) are left as they are,
    // running or not, records and files: that node's own agent adopts them.
    const others = all.filter((r) => r.record?.node !== undefined && r.record.node !== this.node);
    for (const { instanceId, record } of others) found.push({ instanceId, generation: record!.generation, otherNode: record!.node });
    const records = all.filter((r) => !others.includes(r));
    // Only a start cut short between intent and pid needs the scan of every process.
    const shims = records.some((r) => r.record?.pid === undefined) ? liveShims() : new Map<string, never>();
    for (const { instanceId, record } of records) {
      // An intent, or an unreadable record, means a shim may or may not have been started.
      const shim = record?.pid !== undefined ? { pid: record.pid, startTime: record.startTime } : shims.get(this.statusPath(instanceId));
      const alive = shim !== undefined && !!shim.startTime && startTimeOf(shim.pid) === shim.startTime;
      if (!alive) {
        const status = this.readStatus(instanceId);
        this.records.remove(instanceId);
        const why = record?.pid !== undefined ? "ended while the agent was away" : "not started, or ended while the agent was away";
        const stderrTail = this.stderrTail(instanceId);
        const oomKilledAtMb = this.cgroups?.oomKilledAt(instanceId);
        this.release(instanceId, this.lastWriteOf(instanceId));
        const exit: Exit = { exitCode: status ?? null, signal: status === undefined ? `unknown (${why})` : null, stderrTail, ...(oomKilledAtMb !== undefined ? { oomKilledAtMb } : {}) };
        found.push({ instanceId, generation: record?.generation ?? 0, exit });
        continue;
      }
      if (record === undefined) {
        // Its generation is unknown, and reports under a wrong one would be refused: end it
        // and report it ended, so that the control plane replaces it.
        signalGroup(shim.pid, "SIGKILL");
        this.records.remove(instanceId);
        this.release(instanceId, Date.now());
        found.push({ instanceId, generation: 0, exit: { exitCode: null, signal: "the agent: its record was unreadable" } });
        continue;
      }
      if (record.pid === undefined) this.records.write({ ...record, ...shim });
      // Not our child any more: watch for the pid to go.
      const exited = (async (): Promise<Exit> => {
        while (startTimeOf(shim.pid) === shim.startTime) await Bun.sleep(POLL_MS);
        return this.ended(instanceId, null, null);
      })();
      found.push({ instanceId, generation: record.generation, running: this.handle(shim.pid, exited) });
    }
    const kept = new Set(found.filter((a) => a.running || a.otherNode).map((a) => a.instanceId));
    this.releaseLeftovers(kept);
    await this.removeCgroups(kept);
    return found;
  }

  /**
   * Removes the cgroups of copies that no longer run here (ended while the agent was away, or
   * whose removal failed), killing what is left in them. `kept` are the copies whose stay.
   */
  private async removeCgroups(kept: ReadonlySet<string>): Promise<void> {
    for (const id of this.cgroups?.list() ?? []) if (!kept.has(id)) await this.cgroups!.remove(id);
  }

  /** Runs a command with the environment and working directory of a running copy's shim (which hold its own). */
  async exec(req: ExecRequest): Promise<ExecProcess> {
    const record = this.records.read(req.instanceId);
    const alive = record?.pid !== undefined && !!record.startTime && startTimeOf(record.pid) === record.startTime;
    if (!alive || !(await untilShim(record.pid!))) throw new Error(`instance ${req.instanceId} is not running on this node`);
    const { env, cwd } = environmentOf(record.pid!);
    return spawnExec(req, env, cwd);
  }

  /** When an ended copy last wrote its log: when it ended, as near as a later look can tell. */
  private lastWriteOf(instanceId: string): number {
    try {
      return statSync(this.logPath(instanceId)).mtimeMs;
    } catch {
      return Date.now();
    }
  }

  /**
   * Releases the files of copies that no longer run and have no record: what agents from
   * before ended-logs.ts left (they kept every log), or a start whose record could not be
   * written. Runs in adopt(), before this run starts anything; `kept` are the copies whose
   * files stay (those running here, and another node's).
   */
  private releaseLeftovers(kept: ReadonlySet<string>): void {
    const ids = new Set<string>();
    for (const file of readdirSync(this.logDir)) ids.add(file.replace(/\.log(\.1)?$/, ""));
    for (const file of readdirSync(this.runDir)) if (/\.(status|stderr)$/.test(file)) ids.add(file.replace(/\.(status|stderr)$/, ""));
    for (const id of ids) if (!kept.has(id)) this.release(id, this.lastWriteOf(id));
  }

  async probeTarget(req: StartRequest): Promise<ProbeTarget> {
    const copy = copyEnvironment(req);
    const told = req.hostIp || LOOPBACK;
    const env = { ...hostEnvironment(this.passEnv), ...copy.env };
    return {
      // A port of the copy's own is checked where it was told to listen, and where its
      // endpoint is (TESSERA_ADDR_<NAME>: the node's advertised address), as Nomad checks a
      // service's address. It was told no address for a bare port number: loopback first, then
      // the advertised address when nothing listens on loopback.
      addressesOf: (p) => (p.portName !== "" ? [told] : [...new Set([LOOPBACK, told])]),
      // A process listens on its host port.
      ports: Object.fromEntries(req.ports.map((p) => [p.name, p.hostPort])),
      async exec(command, args, timeoutMs) {
        const proc = Bun.spawn([command, ...args], {
          cwd: copy.workingDir || undefined,
          env,
          stdin: "ignore",
          stdout: "ignore",
          stderr: "ignore",
          timeout: timeoutMs,
        });
        return proc.exited;
      },
    };
  }

  /** Each running copy's cgroup counters; none without cgroups. */
  async usage(): Promise<CopyCounters[]> {
    if (!this.cgroups) return [];
    const out: CopyCounters[] = [];
    for (const { instanceId, record } of this.records.readAll()) {
      const used = record?.pid !== undefined && (record.node ?? this.node) === this.node ? this.cgroups.usage(instanceId) : undefined;
      if (used) out.push({ instanceId, ...used });
    }
    return out;
  }

  /**
   * Rotates log files above the size cap: copy to .1, then truncate (the shim appends, so
   * writes continue at the new end). A stderr file is only read for its tail, so one above the
   * cap is truncated without a copy.
   */
  housekeeping(): void {
    // A removal that failed (a process that would not die in time) is tried again.
    void this.removeCgroups(new Set(this.records.readAll().map((r) => r.instanceId)));
    for (const file of readdirSync(this.runDir)) {
      const path = join(this.runDir, file);
      if (file.endsWith(".stderr") && statSync(path).size > this.maxLogBytes) truncateSync(path, 0);
    }
    for (const file of readdirSync(this.logDir)) {
      if (!file.endsWith(".log")) continue;
      const path = join(this.logDir, file);
      if (statSync(path).size <= this.maxLogBytes) continue;
      // Like logrotate's copytruncate: lines written between the two calls are lost.
      copyFileSync(path, `${path}.1`);
      truncateSync(path, 0);
    }
  }

  /** A running copy's log, followed through rotation; an ended copy's kept output. */
  async readLogs(req: LogRequest): Promise<void> {
    const path = this.logPath(req.instanceId);
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      if (await this.endedLogs.read(req.instanceId, req.tail, req.emit)) return;
      throw new NoOutputRecorded(req.instanceId);
    }
    await followLog(fd, path, req, POLL_MS);
  }
}
