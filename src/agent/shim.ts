/**
 * The /bin/sh shim a process copy runs under, and what /proc tells of shims and their process
 * groups: whether a pid is still the process it was (its kernel start time), the live shims
 * of any agent by their status file, a shim's environment and working directory (what `exec`
 * runs with). Shell, Linux only, for process-executor.ts.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * `sh -c SHIM tessera-shim LOG STATUS ERR COMMAND ARGS...` runs COMMAND ARGS with stdout and
 * stderr appended to LOG, stderr to ERR as well, and its exit status written to STATUS. The
 * three paths are positional parameters, never variables, so the copy's environment holds
 * only what it is given (and a restarted agent finds its shims by their command line). /bin/sh
 * has no `2> >(tee ...)`, so stderr goes through a pipe to tee; one log file with both streams
 * keeps `ctl logs` (and its rotation) as it was, at the cost of stderr lines possibly landing a
 * little after stdout lines written just after them. tee ignores SIGTERM so that what a
 * stopping copy says on its way out is still written (and its writes do not fail with EPIPE);
 * it ends at the pipe's EOF, or with the group's SIGKILL.
 */
const SHIM = 'exec 3>>"$1"; { (shift 3; exec "$@") 2>&1 >&3 3>&-; echo "$?" >"$2"; } | (trap "" TERM INT; exec tee -a "$1" >>"$3")';
/**
 * `sh -c JOIN tessera-join N FILE1..FILEN COMMAND ARGS...` writes its own pid to each FILE (the
 * cgroup.procs of the copy's cgroups), then becomes COMMAND: the copy, and all it starts, runs
 * in its cgroups from its first instruction. It fails (125) rather than run a copy unlimited.
 */
const JOIN = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ >"$1" || { echo "tessera: cannot join the cgroup $1" >&2; exit 125; }; shift; n=$((n-1)); done; exec "$@"';

/** The command and args that run `command` in the cgroups whose cgroup.procs files are `procs` (as is, with none). */
export function joinCgroups(procs: string[], command: string, args: string[]): { command: string; args: string[] } {
  if (procs.length === 0) return { command, args };
  return { command: "/bin/sh", args: ["-c", JOIN, "tessera-join", String(procs.length), ...procs, command, ...args] };
}

/** Where the status path is in a shim's argv: /bin/sh -c SHIM tessera-shim LOG STATUS ERR. */
const SHIM_STATUS_ARG = 5;

/** The files a shim writes: the copy's output, its exit status, its stderr alone. */
export interface ShimFiles {
  log: string;
  status: string;
  stderr: string;
}

/** The command line that runs `command` under SHIM. */
export function shimCommand(files: ShimFiles, command: string, args: string[]): string[] {
  return ["/bin/sh", "-c", SHIM, "tessera-shim", files.log, files.status, files.stderr, command, ...args];
}

/** The fields of /proc/PID/stat after the command name (state first), or undefined when the process is gone (or a zombie). */
function statOf(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields;
  } catch {
    return undefined;
  }
}

/**
 * The copy's own process under the shim leading group `shimPid`: SHIM's children are the
 * subshell waiting for the copy and tee, so the copy is the process of the group whose parent
 * is one of them. A signal meant for the copy (SIGHUP) goes to it alone.
 */
export function copyProcesses(shimPid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statOf(Number(entry));
    if (fields !== undefined && Number(fields[2]) === shimPid) parentOf.set(Number(entry), Number(fields[1]));
  }
  const children = new Set([...parentOf].filter(([, parent]) => parent === shimPid).map(([pid]) => pid));
  return [...parentOf].filter(([, parent]) => children.has(parent)).map(([pid]) => pid);
}

/** Field 22 of /proc/PID/stat. */
export function startTimeOf(pid: number): string | undefined {
  return statOf(pid)?.[19];
}

/**
 * Live shims by the status file on their command line: every process-group leader running
 * SHIM, whichever agent started it. The status path (under an agent's own data dir) tells this
 * agent's shims from those of another agent on the machine with the same instance ids.
 * Bun.spawn returns before the child has exec'd, and until it has, its /proc entry shows the
 * agent's command line and environment; a restarted agent looks long after its predecessor
 * died, by when such a child has exec'd.
 */
export function liveShims(): Map<string, { pid: number; startTime: string | undefined }> {
  const shims = new Map<string, { pid: number; startTime: string | undefined }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const stat = statOf(pid);
      if (argv[0] !== "/bin/sh" || argv[2] !== SHIM || stat?.[2] !== entry) continue;
      shims.set(argv[SHIM_STATUS_ARG]!, { pid, startTime: stat[19] });
    } catch {
      // Ended while we looked, or not ours to read.
    }
  }
  return shims;
}

/** How long a copy just started may take to become its shim (see untilShim). */
const SHIM_EXEC_MS = 2_000;

/**
 * Whether `pid` runs SHIM, waiting for it a little: Bun.spawn returns before its child has
 * exec'd, and until then its /proc entry shows the agent's environment, not the copy's (an exec
 * right after a start).
 */
export async function untilShim(pid: number): Promise<boolean> {
  const deadline = Date.now() + SHIM_EXEC_MS;
  for (;;) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[2] === SHIM) return true;
    } catch {
      return false;
    }
    if (Date.now() > deadline) return false;
    await Bun.sleep(5);
  }
}

/** The environment and working directory a running shim (so its copy) was started with, from /proc. */
export function environmentOf(pid: number): { env: { [name: string]: string }; cwd: string } {
  const env: { [name: string]: string } = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

/** Signals a process group (a shim's: its copy and whatever that started); nothing when it is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
