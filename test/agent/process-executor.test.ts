/**
 * The process executor's records across a crash of the agent: a start cut short between the
 * intent and the pid record, and records that cannot be read, are found and adopted or ended,
 * never skipped. A crash is simulated by leaving the files as a kill -9 at that point would
 * and adopting with a fresh executor on the same data dir. And what an ended copy leaves: its
 * output stays readable, within the retention, and nothing else of it stays.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NoOutputRecorded, type Running } from "../../src/agent/executor.js";
import { ProcessExecutor } from "../../src/agent/process-executor.js";
import { WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { eventually, isAlive } from "../e2e/harness.js";

const dirs: string[] = [];
const running: Running[] = [];
/** Shims started by a test, ended afterwards whatever the test did. */
const groups: number[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop(100)));
  for (const pid of groups.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tessera-proc-"));
  dirs.push(d);
  return d;
}

const req = (instanceId: string, generation = 3) => ({ instanceId, name: instanceId.split(".")[0]!, workload: "w", generation, spec: spec({ args: ["3700"] }), ports: [], hostIp: "127.0.0.1", mounts: [] });
const recordFile = (dir: string, id: string) => join(dir, "instances", `${id}.json`);
const readRecord = (dir: string, id: string) => JSON.parse(readFileSync(recordFile(dir, id), "utf8")) as { instanceId: string; generation: number; pid?: number };

/**
 * Waits until a spawned shim has exec'd: Bun.spawn returns before the child has, and until then
 * its /proc entry shows the parent's command line and environment. A restarted agent looks
 * long after (it has to start first), by when a child whose parent died has exec'd.
 */
async function shimPid(dir: string, id: string): Promise<number> {
  const pid = readRecord(dir, id).pid!;
  groups.push(pid);
  await eventually("the shim to exec", () => (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("/bin/sh\0") ? true : undefined), 5_000, 5);
  return pid;
}

/** Starts an instance, then leaves its record as the crash would: returns the shim's pid. */
async function startThenCrash(dir: string, id: string, leave: (path: string) => void): Promise<number> {
  await new ProcessExecutor(dir, "node-a").start(req(id));
  const pid = await shimPid(dir, id);
  leave(recordFile(dir, id));
  return pid;
}

test("a crash between intent and pid record: the restarted executor finds the shim and adopts it", async () => {
  const dir = dataDir();
  const pid = await startThenCrash(dir, "w-0.1", (path) => writeFileSync(path, JSON.stringify({ instanceId: "w-0.1", generation: 3 })));
  const [adopted, ...rest] = await new ProcessExecutor(dir, "node-a").adopt();
  expect(rest).toEqual([]);
  expect(adopted!.instanceId).toBe("w-0.1");
  expect(adopted!.generation).toBe(3);
  expect(adopted!.exit).toBeUndefined();
  // Completed, so that the next restart needs no search.
  expect(readRecord(dir, "w-0.1").pid).toBe(pid);
  // A copy that runs keeps writing its own log.
  expect(existsSync(join(dir, "logs", "w-0.1.log"))).toBe(true);
  expect(isAlive(pid)).toBe(true);
  await adopted!.running!.stop(1000);
  expect(isAlive(pid)).toBe(false);
  expect(readdirSync(join(dir, "instances")).filter((f) => f.endsWith(".json"))).toEqual([]);
});

test("an intent whose start never happened is reported ended and cleared", async () => {
  const dir = dataDir();
  new ProcessExecutor(dir, "node-a");
  writeFileSync(recordFile(dir, "w-0.2"), JSON.stringify({ instanceId: "w-0.2", generation: 5 }));
  // A write cut short before its rename is dropped: what it was to replace stands.
  writeFileSync(`${recordFile(dir, "w-0.3")}.tmp`, "{");
  expect(await new ProcessExecutor(dir, "node-a").adopt()).toEqual([
    { instanceId: "w-0.2", generation: 5, exit: { exitCode: null, signal: "unknown (not started, or ended while the agent was away)" } },
  ]);
  expect(readdirSync(join(dir, "instances"))).toEqual([]);
});

test.each([
  ["empty", ""],
  ["partial JSON", '{"instanceId":"w-0.4","gen'],
  ["another instance's record", JSON.stringify({ instanceId: "w-0.9", generation: 1, pid: 1, startTime: "1" })],
])("a record that cannot be read (%s) is not skipped: its running shim is ended and reported", async (_, text) => {
  const dir = dataDir();
  const pid = await startThenCrash(dir, "w-0.4", (path) => writeFileSync(path, text));
  expect(await new ProcessExecutor(dir, "node-a").adopt()).toEqual([{ instanceId: "w-0.4", generation: 0, exit: { exitCode: null, signal: "the agent: its record was unreadable" } }]);
  await eventually("the shim gone", () => (isAlive(pid) ? undefined : true), 5_000);
  expect(readdirSync(join(dir, "instances")).filter((f) => f.endsWith(".json"))).toEqual([]);
});

test("an unreadable record with nothing running is reported ended", async () => {
  const dir = dataDir();
  new ProcessExecutor(dir, "node-a");
  writeFileSync(recordFile(dir, "w-0.5"), "");
  expect(await new ProcessExecutor(dir, "node-a").adopt()).toEqual([
    { instanceId: "w-0.5", generation: 0, exit: { exitCode: null, signal: "unknown (not started, or ended while the agent was away)" } },
  ]);
});

test("the search finds only this agent's shims, not another agent's with the same instance id", async () => {
  const [mine, theirs] = [dataDir(), dataDir()];
  running.push(await new ProcessExecutor(theirs, "node-a").start(req("w-0.6")));
  const theirPid = await shimPid(theirs, "w-0.6");
  const myPid = await startThenCrash(mine, "w-0.6", (path) => writeFileSync(path, JSON.stringify({ instanceId: "w-0.6", generation: 3 })));
  const [adopted] = await new ProcessExecutor(mine, "node-a").adopt();
  expect(readRecord(mine, "w-0.6").pid).toBe(myPid);
  await adopted!.running!.stop(1000);
  expect(isAlive(myPid)).toBe(false);
  expect(isAlive(theirPid)).toBe(true);
});

test("another node's copies on this data dir are left alone: not adopted, not ended, their files kept", async () => {
  const dir = dataDir();
  const theirs = new ProcessExecutor(dir, "node-a");
  await theirs.start(req("w-0.7"));
  const pid = await shimPid(dir, "w-0.7");
  // An intent of theirs too: it is not searched for, let alone ended.
  writeFileSync(recordFile(dir, "w-0.8"), JSON.stringify({ instanceId: "w-0.8", generation: 2, node: "node-a" }));

  expect(await new ProcessExecutor(dir, "node-b").adopt()).toEqual([
    { instanceId: "w-0.7", generation: 3, otherNode: "node-a" },
    { instanceId: "w-0.8", generation: 2, otherNode: "node-a" },
  ]);
  expect(isAlive(pid)).toBe(true);
  expect(readRecord(dir, "w-0.7").pid).toBe(pid);
  expect(existsSync(recordFile(dir, "w-0.8"))).toBe(true);
  expect(existsSync(join(dir, "logs", "w-0.7.log"))).toBe(true);

  // Its own agent, back on this data dir, adopts it.
  const [adopted] = (await new ProcessExecutor(dir, "node-a").adopt()).filter((a) => a.instanceId === "w-0.7");
  expect(adopted!.running).toBeDefined();
  await adopted!.running!.stop(1000);
  expect(isAlive(pid)).toBe(false);
});

test("a copy sees only the TESSERA_ variables documented for it: no shim paths, none of the agent's own; a batch copy its completion index", async () => {
  const dir = dataDir();
  const executor = new ProcessExecutor(dir, "node-a");
  const own = { TESSERA_LOG: "debug", TESSERA_DATA_DIR: dir, TESSERA_TOKEN: "secret" };
  Object.assign(process.env, own);
  const seen = async (instanceId: string, name: string, kind: WorkloadKind) => {
    const r = await executor.start({ ...req(instanceId), name, workload: "w", spec: spec({ kind, command: "/bin/sh", args: ["-c", "env | grep ^TESSERA_ | sort"] }) });
    expect((await r.exited).exitCode).toBe(0);
    return Object.fromEntries((await output(executor, instanceId)).map((l) => l.split("=")));
  };
  try {
    const copy = { TESSERA_HOST_IP: "127.0.0.1", TESSERA_INSTANCE: "w-2", TESSERA_INSTANCE_ID: "w-2.1", TESSERA_WORKLOAD: "w" };
    expect(await seen("w-2.1", "w-2", WorkloadKind.WORKLOAD_KIND_SERVICE)).toEqual(copy);
    expect(await seen("w-2.2", "w-2", WorkloadKind.WORKLOAD_KIND_BATCH)).toEqual({ ...copy, TESSERA_INSTANCE_ID: "w-2.2", TESSERA_COMPLETION_INDEX: "2" });
  } finally {
    for (const name of Object.keys(own)) delete process.env[name];
  }
  // The host's own environment still reaches it.
  const r = await executor.start({ ...req("w-3.1"), spec: spec({ command: "/bin/sh", args: ["-c", 'echo "$PATH"'] }) });
  await r.exited;
  expect(await output(executor, "w-3.1")).toEqual([process.env.PATH!]);
});

/** Everything readLogs sends for a copy, not following. */
async function output(executor: ProcessExecutor, instanceId: string, tail = 0): Promise<string[]> {
  const lines: string[] = [];
  await executor.readLogs({ instanceId, tail, follow: false, signal: new AbortController().signal, emit: (l) => lines.push(...l) });
  return lines;
}

/** Starts a copy of `name` that prints `text` on both streams and exits 3; resolves when it has ended. */
async function runToEnd(executor: ProcessExecutor, instanceId: string, text: string): Promise<void> {
  const r = await executor.start({ ...req(instanceId), spec: spec({ command: "/bin/sh", args: ["-c", `echo ${text}; echo ${text}-err >&2; exit 3`] }) });
  expect((await r.exited).exitCode).toBe(3);
}

test("an ended copy's output stays readable, its other files go, and only the newest two of a replica are kept", async () => {
  const dir = dataDir();
  const executor = new ProcessExecutor(dir, "node-a");
  await runToEnd(executor, "w-0.1", "first");
  // stderr reaches the log through tee: the two lines may come in either order.
  expect((await output(executor, "w-0.1")).sort()).toEqual(["first", "first-err"]);
  expect(readdirSync(join(dir, "logs"))).toEqual([]);
  expect(readdirSync(join(dir, "instances"))).toEqual([]);

  await runToEnd(executor, "w-0.2", "second");
  await runToEnd(executor, "w-1.3", "other");
  await runToEnd(executor, "w-0.4", "fourth");
  expect(readdirSync(join(dir, "ended-logs")).sort()).toEqual(["w-0.2.log", "w-0.4.log", "w-1.3.log"]);
  await expect(output(executor, "w-0.1")).rejects.toThrow(new NoOutputRecorded("w-0.1"));
  expect(await output(executor, "w-0.4", 1)).toHaveLength(1);
});

test("following a copy ends when the copy does, with the last thing it wrote", async () => {
  const dir = dataDir();
  const executor = new ProcessExecutor(dir, "node-a");
  const go = join(dir, "go");
  await executor.start({ ...req("w-0.8"), spec: spec({ command: "/bin/sh", args: ["-c", `echo first; until [ -e ${go} ]; do sleep 0.05; done; printf 'last, no newline'`] }) });
  const lines: string[] = [];
  await eventually("the copy's log", () => (existsSync(join(dir, "logs", "w-0.8.log")) ? true : undefined));
  const following = executor.readLogs({ instanceId: "w-0.8", tail: 0, follow: true, signal: new AbortController().signal, emit: (l) => lines.push(...l) });
  await eventually("its first line", () => (lines.length > 0 ? true : undefined));
  writeFileSync(go, "");
  await following;
  expect(lines).toEqual(["first", "last, no newline"]);
});

test("what an agent from before ended-logs left is released at the next start: the log kept as ended, the rest gone", async () => {
  const dir = dataDir();
  new ProcessExecutor(dir, "node-a");
  writeFileSync(join(dir, "logs", "w-0.7.log"), "old output\n");
  writeFileSync(join(dir, "logs", "w-0.7.log.1"), "older output\n");
  writeFileSync(join(dir, "instances", "w-0.7.status"), "0\n");
  writeFileSync(join(dir, "instances", "w-0.7.stderr"), "");
  const executor = new ProcessExecutor(dir, "node-a");
  expect(await executor.adopt()).toEqual([]);
  expect(readdirSync(join(dir, "logs"))).toEqual([]);
  expect(readdirSync(join(dir, "instances"))).toEqual([]);
  expect(await output(executor, "w-0.7")).toEqual(["old output"]);
});
