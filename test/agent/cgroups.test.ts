/** Which cgroups an agent can use, read from the mounts, and why none when it cannot; what it writes and reads in v2 and v1 (#31). */
import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectCgroups } from "../../src/agent/cgroups.js";

const line = (id: number, point: string, fstype: string, opts: string) => `${id} 1 0:${id} / ${point} rw,relatime - ${fstype} ${fstype} ${opts}`;

test("no cgroup mounts: the reason names what is missing", () => {
  const found = detectCgroups("node-a.x", [line(20, "/proc", "proc", "rw")].join("\n"));
  expect(found).toEqual({ reason: "no cgroup v2 mounted; no cgroup v1 memory, cpu, pids mounts" });
});

test("cgroup v2 without the controllers, v1 without pids: both named", () => {
  const root = mkdtempSync(join(tmpdir(), "cgroup2-"));
  writeFileSync(join(root, "cgroup.controllers"), "cpu io\n");
  const found = detectCgroups("node-a.x", [line(30, root, "cgroup2", "rw"), line(31, "/sys/fs/cgroup/memory", "cgroup", "rw,memory"), line(32, "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")].join("\n"));
  expect(found).toEqual({ reason: `cgroup v2 at ${root} lacks the memory, pids controllers; no cgroup v1 pids mount` });
});

/** A directory standing for a cgroup mount: the control files are plain files, so what is written can be read back. */
function fakeMount(controllers?: string): string {
  const root = mkdtempSync(join(tmpdir(), "cgroup-"));
  if (controllers !== undefined) writeFileSync(join(root, "cgroup.controllers"), `${controllers}\n`);
  return root;
}

test("cgroup v2: memory.max (swap off where there is swap), cpu.max, pids.max; OOM kills from memory.events; usage from cpu.stat and memory", () => {
  const root = fakeMount("cpuset cpu io memory pids");
  const found = detectCgroups("node-a.x", line(30, root, "cgroup2", "rw"));
  if (!("cgroups" in found)) throw new Error(found.reason);
  const cg = found.cgroups;
  expect(cg.version).toBe("cgroup v2");
  // The controllers are enabled for the copies, down the path from the mount's root.
  expect(readFileSync(join(root, "tessera", "node-a.x", "cgroup.subtree_control"), "utf8")).toBe("+memory +cpu +pids");
  const dir = join(root, "tessera", "node-a.x", "web-0.1");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "memory.swap.max"), "max");
  expect(cg.create("web-0.1", { memoryMb: 64, cpuMillis: 200, pidsMax: 100 })).toEqual([join(dir, "cgroup.procs")]);
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  expect([read("memory.max"), read("memory.swap.max"), read("cpu.max"), read("pids.max")]).toEqual([String(64 * 1024 * 1024), "0", "20000 100000", "100"]);
  writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n");
  expect(cg.oomKilledAt("web-0.1")).toBeUndefined();
  writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n");
  expect(cg.oomKilledAt("web-0.1")).toBe(64);
  writeFileSync(join(dir, "cpu.stat"), "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
  writeFileSync(join(dir, "memory.current"), "50000000\n");
  writeFileSync(join(dir, "memory.stat"), "anon 40000000\nfile 10000000\ninactive_file 8000000\n");
  expect(cg.usage("web-0.1")).toEqual({ cpuNanos: 1_500_000_000, memoryBytes: 42_000_000 });
  expect(cg.list()).toEqual(["web-0.1"]);
  // No stated limits: none of that kind.
  cg.create("plain-0.2", { memoryMb: 0, cpuMillis: 0, pidsMax: 4096 });
  const plain = (f: string) => readFileSync(join(root, "tessera", "node-a.x", "plain-0.2", f), "utf8");
  expect([plain("memory.max"), plain("cpu.max"), plain("pids.max")]).toEqual(["max", "max 100000", "4096"]);
});

test("cgroup v1: a directory per hierarchy, memsw where swap is accounted; OOM kills from memory.oom_control; usage from cpuacct", () => {
  const [memory, cpu, cpuacct, pids] = [fakeMount(), fakeMount(), fakeMount(), fakeMount()];
  const mounts = [line(31, memory!, "cgroup", "rw,memory"), line(32, cpu!, "cgroup", "rw,cpu"), line(33, cpuacct!, "cgroup", "rw,cpuacct"), line(34, pids!, "cgroup", "rw,pids")];
  const found = detectCgroups("node-a.x", mounts.join("\n"));
  if (!("cgroups" in found)) throw new Error(found.reason);
  const cg = found.cgroups;
  expect(cg.version).toBe("cgroup v1");
  const at = (root: string) => join(root, "tessera", "node-a.x", "web-0.1");
  mkdirSync(at(memory!), { recursive: true });
  writeFileSync(join(at(memory!), "memory.memsw.limit_in_bytes"), "");
  expect(cg.create("web-0.1", { memoryMb: 64, cpuMillis: 200, pidsMax: 100 }).sort()).toEqual([memory!, cpu!, cpuacct!, pids!].map((r) => join(at(r), "cgroup.procs")).sort());
  const read = (root: string, f: string) => readFileSync(join(at(root), f), "utf8");
  expect([read(memory!, "memory.limit_in_bytes"), read(memory!, "memory.memsw.limit_in_bytes"), read(cpu!, "cpu.cfs_period_us"), read(cpu!, "cpu.cfs_quota_us"), read(pids!, "pids.max")]).toEqual([
    String(64 * 1024 * 1024),
    String(64 * 1024 * 1024),
    "100000",
    "20000",
    "100",
  ]);
  writeFileSync(join(at(memory!), "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  expect(cg.oomKilledAt("web-0.1")).toBe(64);
  writeFileSync(join(at(cpuacct!), "cpuacct.usage"), "2500000000\n");
  writeFileSync(join(at(memory!), "memory.usage_in_bytes"), "30000000\n");
  writeFileSync(join(at(memory!), "memory.stat"), "cache 1000\ntotal_inactive_file 4000000\n");
  expect(cg.usage("web-0.1")).toEqual({ cpuNanos: 2_500_000_000, memoryBytes: 26_000_000 });
  expect(cg.list()).toEqual(["web-0.1"]);
});
