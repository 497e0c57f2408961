/** Which cgroups an agent can use, read from the mounts, and why none when it cannot (#31). */
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
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
