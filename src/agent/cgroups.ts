/**
 * cgroups for process copies: each copy in a cgroup of its own under one parent per agent
 * (tessera/<parent> at the root of each hierarchy), with its memory limit (swap off), CPU quota
 * and pids limit; how it was OOM-killed and what it uses are read back from it.
 * cgroup v2 where it is mounted with the memory, cpu and pids controllers (memory.max, cpu.max,
 * pids.max, memory.events), cgroup v1 where those controllers are mounted on their own
 * (memory.limit_in_bytes, cpu.cfs_quota_us, pids.max, memory.oom_control). Shell, Linux only,
 * for process-executor.ts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What a copy is held to. 0 for memoryMb or cpuMillis: no limit of that kind. */
export interface CopyLimits {
  memoryMb: number;
  cpuMillis: number;
  pidsMax: number;
}

/** What a copy's cgroup has used: CPU time in all, memory now (its working set: without inactive file cache). */
export interface CopyUsage {
  cpuNanos: number;
  memoryBytes: number;
}

export interface Cgroups {
  /** "cgroup v2" or "cgroup v1": what enforces the limits, as `describe node` shows it. */
  readonly version: string;
  /** Makes the copy's cgroup with its limits; returns the files a process joins it by writing its pid to. */
  create(id: string, limits: CopyLimits): string[];
  /** The copy's memory limit in MiB when the kernel's OOM killer ended a process of it; undefined otherwise. */
  oomKilledAt(id: string): number | undefined;
  /** Undefined when the copy has no cgroup (any more). */
  usage(id: string): CopyUsage | undefined;
  /** Kills what is left in the copy's cgroup and removes it; false when something would not go (retried later). */
  remove(id: string): Promise<boolean>;
  /** The copies that have a cgroup under this agent's parent. */
  list(): string[];
}

/** cgroups, or why there are none to use. */
export type CgroupSupport = { cgroups: Cgroups } | { reason: string };

/** CFS period: the quota is cpuMillis of every 100 ms. */
const CPU_PERIOD_US = 100_000;
const MIB = 1024 * 1024;
/** How long remove() waits for killed processes to leave a cgroup. */
const REMOVE_WAIT_MS = 2_000;

/** Writes a control file; `optional` ones (swap, on a kernel without swap accounting) may be absent. */
function put(dir: string, file: string, value: string, optional = false): void {
  const path = join(dir, file);
  if (optional && !existsSync(path)) return;
  writeFileSync(path, value);
}

/** `key value` lines (memory.stat, memory.events, cpu.stat, memory.oom_control) into numbers. */
function keyed(path: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const [k, v] = line.split(" ");
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

function pidsIn(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const dir of dirs) {
    try {
      for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) if (p !== "") pids.add(Number(p));
    } catch {
      // Gone already.
    }
  }
  return [...pids];
}

/** Kills every process in `dirs` (a fork bomb's new children too: repeated) until they are empty, then removes them. */
async function killAndRemove(dirs: string[]): Promise<boolean> {
  const present = dirs.filter((d) => existsSync(d));
  const deadline = Date.now() + REMOVE_WAIT_MS;
  for (;;) {
    for (const pid of pidsIn(present)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Ended meanwhile.
      }
    }
    try {
      for (const d of present) if (existsSync(d)) rmdirSync(d);
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await Bun.sleep(20);
    }
  }
}

/** Directory names under `dir` (the copies' cgroups); none when it is missing. */
function children(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** cgroup v2: one directory per copy, controllers enabled down the path from the mount's root. */
function cgroupV2(root: string, parent: string): Cgroups {
  const base = join(root, "tessera", parent);
  mkdirSync(base, { recursive: true });
  // The root's, tessera's and the agent's parent's children get the controllers.
  for (const dir of [root, join(root, "tessera"), base]) writeFileSync(join(dir, "cgroup.subtree_control"), "+memory +cpu +pids");
  const dir = (id: string) => join(base, id);
  return {
    version: "cgroup v2",
    create(id, limits) {
      const d = dir(id);
      mkdirSync(d, { recursive: true });
      put(d, "memory.max", limits.memoryMb > 0 ? String(limits.memoryMb * MIB) : "max");
      put(d, "memory.swap.max", limits.memoryMb > 0 ? "0" : "max", true);
      put(d, "cpu.max", limits.cpuMillis > 0 ? `${limits.cpuMillis * (CPU_PERIOD_US / 1000)} ${CPU_PERIOD_US}` : `max ${CPU_PERIOD_US}`);
      put(d, "pids.max", String(limits.pidsMax));
      return [join(d, "cgroup.procs")];
    },
    oomKilledAt(id) {
      try {
        if ((keyed(join(dir(id), "memory.events")).get("oom_kill") ?? 0) === 0) return undefined;
        const max = readFileSync(join(dir(id), "memory.max"), "utf8").trim();
        return max === "max" ? undefined : Math.round(Number(max) / MIB);
      } catch {
        return undefined;
      }
    },
    usage(id) {
      try {
        const cpu = keyed(join(dir(id), "cpu.stat")).get("usage_usec") ?? 0;
        const current = Number(readFileSync(join(dir(id), "memory.current"), "utf8"));
        const inactive = keyed(join(dir(id), "memory.stat")).get("inactive_file") ?? 0;
        return { cpuNanos: cpu * 1000, memoryBytes: Math.max(0, current - inactive) };
      } catch {
        return undefined;
      }
    },
    remove: (id) => killAndRemove([dir(id)]),
    list: () => children(base),
  };
}

/** The v1 hierarchies a copy's cgroup spans. cpuacct may share cpu's (cpu,cpuacct) or be absent. */
interface V1Mounts {
  memory: string;
  cpu: string;
  pids: string;
  cpuacct: string | undefined;
}

/** cgroup v1: a directory per copy in each hierarchy. */
function cgroupV1(mounts: V1Mounts, parent: string): Cgroups {
  const roots = [...new Set([mounts.memory, mounts.cpu, mounts.pids, ...(mounts.cpuacct ? [mounts.cpuacct] : [])])];
  for (const r of roots) mkdirSync(join(r, "tessera", parent), { recursive: true });
  const at = (root: string, id: string) => join(root, "tessera", parent, id);
  const dirs = (id: string) => roots.map((r) => at(r, id));
  return {
    version: "cgroup v1",
    create(id, limits) {
      for (const d of dirs(id)) mkdirSync(d, { recursive: true });
      const mem = at(mounts.memory, id);
      put(mem, "memory.swappiness", "0", true);
      if (limits.memoryMb > 0) {
        put(mem, "memory.limit_in_bytes", String(limits.memoryMb * MIB));
        // Memory plus swap no more than memory: no swap (absent without swap accounting).
        put(mem, "memory.memsw.limit_in_bytes", String(limits.memoryMb * MIB), true);
      }
      const cpu = at(mounts.cpu, id);
      put(cpu, "cpu.cfs_period_us", String(CPU_PERIOD_US));
      put(cpu, "cpu.cfs_quota_us", limits.cpuMillis > 0 ? String(limits.cpuMillis * (CPU_PERIOD_US / 1000)) : "-1");
      put(at(mounts.pids, id), "pids.max", String(limits.pidsMax));
      return dirs(id).map((d) => join(d, "cgroup.procs"));
    },
    oomKilledAt(id) {
      const mem = at(mounts.memory, id);
      try {
        if ((keyed(join(mem, "memory.oom_control")).get("oom_kill") ?? 0) === 0) return undefined;
        return Math.round(Number(readFileSync(join(mem, "memory.limit_in_bytes"), "utf8")) / MIB);
      } catch {
        return undefined;
      }
    },
    usage(id) {
      try {
        const mem = at(mounts.memory, id);
        const cpuNanos = mounts.cpuacct ? Number(readFileSync(join(at(mounts.cpuacct, id), "cpuacct.usage"), "utf8")) : 0;
        const usage = Number(readFileSync(join(mem, "memory.usage_in_bytes"), "utf8"));
        const inactive = keyed(join(mem, "memory.stat")).get("total_inactive_file") ?? 0;
        return { cpuNanos, memoryBytes: Math.max(0, usage - inactive) };
      } catch {
        return undefined;
      }
    },
    remove: (id) => killAndRemove(dirs(id)),
    list: () => [...new Set(roots.flatMap((r) => children(join(r, "tessera", parent))))],
  };
}

/** cgroup mounts from /proc/self/mountinfo: cgroup2's mount point, and each v1 controller's. */
function mountsOf(mountinfo: string): { v2: string | undefined; v1: Map<string, string> } {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const point = left.split(" ")[4]!;
    const [fstype, , superOptions] = right.split(" ");
    if (fstype === "cgroup2") v2 ??= point;
    if (fstype === "cgroup") for (const opt of (superOptions ?? "").split(",")) if (!v1.has(opt)) v1.set(opt, point);
  }
  return { v2, v1 };
}

const NEEDED = ["memory", "cpu", "pids"];

/**
 * Which cgroups this agent can hold its copies in, under tessera/`parent`: v2 when it is mounted
 * with the controllers, v1 when they are mounted there, or why neither works (reading the
 * mounts, or making the parent, failed: not root, a read-only /sys).
 */
export function detectCgroups(parent: string, mountinfo?: string): CgroupSupport {
  let mounts: ReturnType<typeof mountsOf>;
  try {
    mounts = mountsOf(mountinfo ?? readFileSync("/proc/self/mountinfo", "utf8"));
  } catch (err) {
    return { reason: `cannot read the mounts: ${(err as Error).message}` };
  }
  const problems: string[] = [];
  if (mounts.v2 !== undefined) {
    let offered: string[] = [];
    try {
      offered = readFileSync(join(mounts.v2, "cgroup.controllers"), "utf8").trim().split(/\s+/);
    } catch {
      // Counted as none below.
    }
    const missing = NEEDED.filter((c) => !offered.includes(c));
    if (missing.length === 0) {
      try {
        return { cgroups: cgroupV2(mounts.v2, parent) };
      } catch (err) {
        problems.push(`cgroup v2 at ${mounts.v2}: ${(err as Error).message}`);
      }
    } else problems.push(`cgroup v2 at ${mounts.v2} lacks the ${missing.join(", ")} controller${missing.length > 1 ? "s" : ""}`);
  } else problems.push("no cgroup v2 mounted");
  const missing = NEEDED.filter((c) => !mounts.v1.has(c));
  if (missing.length > 0) {
    problems.push(`no cgroup v1 ${missing.join(", ")} mount${missing.length > 1 ? "s" : ""}`);
    return { reason: problems.join("; ") };
  }
  try {
    return { cgroups: cgroupV1({ memory: mounts.v1.get("memory")!, cpu: mounts.v1.get("cpu")!, pids: mounts.v1.get("pids")!, cpuacct: mounts.v1.get("cpuacct") }, parent) };
  } catch (err) {
    problems.push(`cgroup v1: ${(err as Error).message}`);
    return { reason: problems.join("; ") };
  }
}
