/**
 * Drives the compiled `dist/tessera` binary: starts servers on free loopback ports with
 * temporary data dirs, runs ctl commands, polls with deadlines, and stops what it started.
 */
import { type ChannelCredentials, type ChannelOptions, credentials, Metadata } from "@grpc/grpc-js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** End-to-end tests start real processes: each file gives its tests this much (bun's default is 5 s). */
export const E2E_TIMEOUT_MS = 30_000;

/** The executable under test: dist/tessera, or $TESSERA_BINARY (another build, or a wrapper that profiles). */
export const BINARY = process.env.TESSERA_BINARY ?? join(import.meta.dir, "..", "..", "dist", "tessera");

export function requireBinary(): void {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`make build\` (make test does) first`);
}

export interface Server {
  proc: ReturnType<typeof Bun.spawn>;
  /** Parsed JSON log lines seen so far on stderr. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the first log line matching, or rejects at the deadline. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** `tessera ARGS...` as started, for reports. */
  readonly command: string;
}

/** Log lines per process an explained failure carries: the last ones say what it was doing. */
const EXPLAIN_LINES = 25;

export class Harness {
  readonly dir: string;
  private readonly started: Server[] = [];

  /** `dirPrefix` names the temporary directory (the lab finds a crashed run's by it). */
  constructor(dirPrefix = "tessera-e2e-") {
    this.dir = mkdtempSync(join(tmpdir(), dirPrefix));
  }

  /**
   * Every process runs as if on the control plane's host: ctl and agents find its CA, admin
   * token and join token in its data dir (this.dir/control), as they would on a real node.
   */
  private localEnv(): Record<string, string> {
    return { TESSERA_DATA_DIR: join(this.dir, "control") };
  }

  /** Starts `tessera ARGS...` (or another executable) with JSON logs collected from stderr. */
  start(args: string[], env: Record<string, string> = {}, executable = BINARY): Server {
    const proc = Bun.spawn([executable, ...args], {
      cwd: this.dir,
      env: { ...process.env, TESSERA_LOG: "debug", ...this.localEnv(), ...env },
      stdout: "ignore",
      stderr: "pipe",
    });
    const logs: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    void (async () => {
      let buffer = "";
      const decoder = new TextDecoder();
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          try {
            logs.push(JSON.parse(line));
          } catch {
            logs.push({ raw: line });
          }
          for (const w of waiters.splice(0)) w();
        }
      }
    })();
    const server: Server = {
      proc,
      logs,
      command: [executable === BINARY ? "tessera" : executable, ...args].join(" "),
      waitForLog(match, timeoutMs = 10_000) {
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; saw:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`)), timeoutMs);
          const check = () => {
            const hit = logs.find(match);
            if (hit) {
              clearTimeout(timer);
              resolve(hit);
            } else if (proc.exitCode !== null) {
              clearTimeout(timer);
              reject(new Error(`tessera ${args.join(" ")} exited with ${proc.exitCode}; logs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`));
            } else waiters.push(check);
          };
          check();
        });
      },
    };
    this.started.push(server);
    return server;
  }

  /** Starts a control plane (on a free loopback port unless `listen` is given, with `flags` added); resolves with its addresses once it serves. */
  async startControl(listen = "127.0.0.1:0", env: Record<string, string> = {}, flags: string[] = []): Promise<{ server: Server; address: string; metricsAddress: string }> {
    const server = this.start(["control", "--listen", listen, "--data-dir", join(this.dir, "control"), "--metrics-listen", "127.0.0.1:0", ...flags], env);
    const line = await server.waitForLog((l) => l.msg === "control plane listening");
    // On PostgreSQL it listens first as a standby: it serves (its tokens written) once it leads.
    if (String(line.store).startsWith("postgres://")) await server.waitForLog(leadingServes, 20_000);
    const http = await server.waitForLog((l) => l.msg === "http listening");
    return { server, address: String(line.address), metricsAddress: String(http.address) };
  }

  /**
   * Runs a step (a suite's beforeAll, a wait); when it fails, its error carries the last log
   * lines of every process started so far, which say why (a CI log may keep only the error).
   */
  async explaining<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      const recent = this.started.map(
        (s) => `--- ${s.command} (pid ${s.proc.pid}, ${s.proc.exitCode === null ? "running" : `exited ${s.proc.exitCode}`}), last log lines:\n${s.logs.slice(-EXPLAIN_LINES).map((l) => JSON.stringify(l)).join("\n")}`,
      );
      throw new Error([err instanceof Error ? err.message : String(err), ...recent].join("\n"));
    }
  }

  /** Runs `tessera ARGS...` (or another executable) to completion. */
  async run(args: string[], env: Record<string, string> = {}, executable = BINARY): Promise<{ code: number; stdout: string; stderr: string }> {
    const proc = Bun.spawn([executable, ...args], { cwd: this.dir, env: { ...process.env, ...this.localEnv(), ...env }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  }

  /** Stops everything started, then removes the temporary directory. */
  async stop(): Promise<void> {
    for (const s of this.started) s.proc.kill("SIGTERM");
    await Promise.all(
      this.started.map(async (s) => {
        const timer = setTimeout(() => s.proc.kill("SIGKILL"), 8_000);
        await s.proc.exited;
        clearTimeout(timer);
      }),
    );
    // Agents leave their instances running on exit (they are adopted on restart): end them,
    // recorded or not.
    for (const { pid } of instanceProcesses(this.dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await removeCgroupsOf(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The hierarchies an agent may make its cgroups in: each v1 controller's, and v2's. */
const CGROUP_TREES = "/sys/fs/cgroup";

/**
 * Removes the cgroups agents with data dirs under `dir` made (tessera/NODE.HASH, HASH naming
 * the data dir), killing what is left in them: an agent killed for good leaves its copies'
 * cgroups, as its copies, for its next start to take over.
 */
async function removeCgroupsOf(dir: string): Promise<void> {
  const hashes = new Set<string>();
  const walk = (d: string, depth: number) => {
    hashes.add(createHash("sha256").update(d).digest("hex").slice(0, 8));
    if (depth === 0) return;
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name), depth - 1);
  };
  if (!existsSync(dir)) return;
  walk(dir, 2);
  const trees = existsSync(CGROUP_TREES) ? readdirSync(CGROUP_TREES).map((t) => join(CGROUP_TREES, t, "tessera")).filter((t) => existsSync(t)) : [];
  for (const tree of trees) {
    for (const parent of readdirSync(tree, { withFileTypes: true })) {
      if (!parent.isDirectory() || !hashes.has(parent.name.slice(parent.name.lastIndexOf(".") + 1))) continue;
      const at = join(tree, parent.name);
      for (const copy of readdirSync(at, { withFileTypes: true })) {
        if (!copy.isDirectory()) continue;
        await eventually(`${join(at, copy.name)} removed`, () => {
          for (const pid of readFileSync(join(at, copy.name, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
            try {
              process.kill(Number(pid), "SIGKILL");
            } catch {
              // Already gone.
            }
          }
          rmdirSync(join(at, copy.name));
          return true;
        });
      }
      rmdirSync(at);
    }
  }
}

/** What a client on the control plane's host uses: its CA and admin token (TLS + bearer token). */
export function adminChannel(controlDir: string): { creds: ChannelCredentials; options: ChannelOptions } {
  const token = readFileSync(join(controlDir, "admin-token"), "utf8").trim();
  const perCall = credentials.createFromMetadataGenerator((_p, cb) => {
    const md = new Metadata();
    md.set("authorization", `Bearer ${token}`);
    cb(null, md);
  });
  return {
    creds: credentials.combineChannelCredentials(credentials.createSsl(readFileSync(join(controlDir, "pki", "ca.pem"))), perCall),
    options: CHANNEL_OPTIONS,
  };
}

/**
 * A control plane's log line saying its term serves (the writer started, from memory or a load,
 * and its tokens are issued): later than "leading", which is logged when the lease is taken.
 */
export const leadingServes = (l: Record<string, unknown>): boolean => l.msg === "leading from memory" || l.msg === "leading from a load of the database";

/** Polls `probe` until it returns a value other than undefined, or fails at the deadline. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await Bun.sleep(everyMs);
  }
}

/**
 * Proves that an agent's (re)connection provokes nothing: polls until the control plane has
 * taken the `beats`-th heartbeat the agent sent, calling `check` at every poll (a throw fails
 * the wait at its deadline with that error). Heartbeats follow the hello on the stream and are
 * taken in order, so whatever the hello provoked was sent to the agent in an earlier turn; the
 * heartbeats after the first give the agent a heartbeat period each to act on it.
 */
export async function checkUntilHeard(h: Harness, address: string, agent: Server, node: string, check: () => void, beats = 2): Promise<void> {
  await eventually(
    `the control plane taking heartbeat ${beats} of ${node}`,
    async () => {
      check();
      const sent = agent.logs.filter((l) => l.msg === "heartbeat");
      if (sent.length < beats) return undefined;
      const out = await h.run(["ctl", "get", "nodes", "-o", "json"], { TESSERA_CONTROL: address });
      const heard = (JSON.parse(out.stdout) as { nodes?: Array<{ name: string; lastHeartbeat?: string }> }).nodes?.find((n) => n.name === node)?.lastHeartbeat;
      return heard !== undefined && Date.parse(heard) >= Date.parse(String(sent[beats - 1]!.time)) ? true : undefined;
    },
    15_000,
    200,
  );
}

/**
 * The instance transitions in a workload's history, oldest first ("place", "run", "fail",
 * "lose", ...), read from `ctl history -o json` (each event's `detail`): what a test asserts
 * never happened does not hang on the wording of the readable summaries.
 */
export async function transitionsOf(h: Harness, address: string, workload: string): Promise<string[]> {
  const out = await h.run(["ctl", "history", workload, "-o", "json"], { TESSERA_CONTROL: address });
  const events = (JSON.parse(out.stdout) as { events?: Array<{ type: string; detail: string }> }).events ?? [];
  return events.filter((e) => e.type === "InstanceTransitioned").map((e) => (JSON.parse(e.detail) as { event: { type: string } }).event.type);
}

/** Process-group leaders recorded by process executors under a directory (their instances/*.json; intents have none yet). */
export function recordedInstancePids(dir: string): number[] {
  const pids: number[] = [];
  for (const file of readdirSync(dir, { recursive: true }) as string[]) {
    if (!/(^|\/)instances\/[^/]+\.json$/.test(file)) continue;
    try {
      const { pid } = JSON.parse(readFileSync(join(dir, file), "utf8")) as { pid?: number };
      if (pid !== undefined) pids.push(pid);
    } catch {
      // Removed while we looked.
    }
  }
  return pids;
}

/**
 * Live processes started by process executors whose data dir is under `dir`: their shims
 * (found by the status path on their command line: /bin/sh -c SHIM tessera-shim LOG STATUS
 * ERR ...) and everything in the shims' process groups, each with its TESSERA_ variables.
 */
export function instanceProcesses(dir: string): Array<{ pid: number; env: Record<string, string> }> {
  const all: Array<{ pid: number; group: number; shimOf: string | undefined }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      all.push({ pid: Number(entry), group: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]), shimOf: argv[3] === "tessera-shim" ? argv[5] : undefined });
    } catch {
      // Ended while we looked.
    }
  }
  const shims = new Set(all.filter((p) => p.shimOf?.startsWith(`${dir}/`)).map((p) => p.pid));
  const found: Array<{ pid: number; env: Record<string, string> }> = [];
  for (const p of all) {
    if (!shims.has(p.group) || !isAlive(p.pid)) continue;
    try {
      const env = Object.fromEntries(
        readFileSync(`/proc/${p.pid}/environ`, "utf8")
          .split("\0")
          .filter((v) => v.startsWith("TESSERA_"))
          .map((v) => [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)]),
      );
      found.push({ pid: p.pid, env });
    } catch {
      // Ended while we looked, or not ours to read.
    }
  }
  return found;
}

/** Descendants of a process (children, grandchildren, ...), with their command lines (Linux /proc). */
export function descendantsOf(root: number): Array<{ pid: number; cmdline: string[] }> {
  const all: Array<{ pid: number; ppid: number; cmdline: string[] }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      all.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // The process ended while we looked.
    }
  }
  const found = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => p.pid !== root && found.has(p.pid)).map(({ pid, cmdline }) => ({ pid, cmdline }));
}

/** True while a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Whether nothing listens on a loopback port right now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** Where ranges are looked for: below the kernel's ephemeral ports (32768 and up), which every outgoing connection and every listener on port 0 takes from. */
const RANGES_FROM = 20_000;
const RANGES_TO = 32_000;

/** `count` consecutive free loopback ports: an agent's dynamic range. */
export async function freeRange(count: number): Promise<{ from: number; to: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const from = RANGES_FROM + Math.floor(Math.random() * (RANGES_TO - RANGES_FROM - count));
    const ports = Array.from({ length: count }, (_, k) => from + k);
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return { from, to: from + count - 1 };
  }
  throw new Error(`no ${count} consecutive free loopback ports found`);
}
