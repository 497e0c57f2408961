/**
 * The data dir belongs to one control plane and one cluster, through dist/tessera: a second
 * control plane (or `tessera dev`) on it is refused with the holder's pid, and kill -9 leaves
 * no stale lock; an emptied database beside the cluster's CA and tokens is refused with the
 * file named (and `--reinitialize` starts it over on purpose); a damaged one is named.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

let h: Harness;
afterEach(() => h.stop());

function controlDir(): string {
  return join(h.dir, "control");
}

function controlArgs(...extra: string[]): string[] {
  return ["control", "--listen", "127.0.0.1:0", "--data-dir", controlDir(), "--metrics-listen", "", ...extra];
}

async function startControl(...extra: string[]): Promise<{ server: Server; address: string }> {
  requireBinary();
  const server = h.start(controlArgs(...extra));
  const line = await server.waitForLog((l) => l.msg === "control plane listening");
  return { server, address: String(line.address) };
}

async function stopGracefully(server: Server): Promise<void> {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
}

/** A refusal is one line on stderr, no stack trace. */
function expectOneLine(stderr: string): void {
  expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(stderr).not.toContain("$bunfs");
}

/** Runs a start that must be refused; one that is not would serve forever, so it is killed at a deadline. */
async function runRefused(args: string[]): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn([BINARY, ...args], { cwd: h.dir, env: { ...process.env, TESSERA_DATA_DIR: controlDir() }, stdout: "ignore", stderr: "pipe", timeout: 10_000, killSignal: "SIGKILL" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (proc.signalCode !== null) throw new Error(`tessera ${args.join(" ")} was not refused: it was still running after 10 s; stderr:\n${stderr}`);
  return { code, stderr };
}

test("a second control plane on the data dir is refused with the holder's pid; kill -9 frees the dir", async () => {
  h = new Harness();
  const first = await startControl();
  const second = await runRefused(controlArgs());
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`data dir ${controlDir()} is in use by another control plane (pid ${first.server.proc.pid} `);
  expect(second.stderr).toContain("stop it or use another --data-dir");
  expectOneLine(second.stderr);
  // `tessera dev` runs a control plane too: same rule.
  const dev = await runRefused(["dev", "--listen", "127.0.0.1:0", "--data-dir", controlDir()]);
  expect(dev.code).toBe(1);
  expect(dev.stderr).toContain(`is in use by another control plane (pid ${first.server.proc.pid} `);

  // The first one kept serving.
  const nodes = await h.run(["ctl", "get", "nodes"], { TESSERA_CONTROL: first.address });
  expect(nodes.stderr).toBe("");
  expect(nodes.code).toBe(0);

  first.server.proc.kill("SIGKILL");
  await first.server.proc.exited;
  const next = await startControl();
  expect((await h.run(["ctl", "get", "nodes"], { TESSERA_CONTROL: next.address })).code).toBe(0);
});

test("an emptied database beside the cluster's CA and tokens is refused; --reinitialize starts it over empty, keeping them", async () => {
  h = new Harness();
  const first = await startControl();
  writeFileSync(join(h.dir, "web.json"), '{"name":"web","spec":{"command":"/bin/sleep","args":["3600"],"replicas":0}}');
  expect((await h.run(["ctl", "apply", "-f", "web.json"], { TESSERA_CONTROL: first.address })).code).toBe(0);
  await stopGracefully(first.server);
  const adminToken = readFileSync(join(controlDir(), "admin-token"), "utf8");
  const ca = readFileSync(join(controlDir(), "pki", "ca.pem"), "utf8");

  // The finding: a 0-byte tessera.db beside the cluster's CA and tokens.
  const db = join(controlDir(), "tessera.db");
  truncateSync(db, 0);
  for (const side of ["-wal", "-shm"]) rmSync(`${db}${side}`, { force: true });
  const refused = await runRefused(controlArgs());
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`${db} does not hold the state of cluster `);
  expect(refused.stderr).toContain("--reinitialize");
  expectOneLine(refused.stderr);
  // Refusing again is the same refusal: the first one recorded nothing in the database.
  expect((await runRefused(controlArgs())).stderr).toBe(refused.stderr);

  const restarted = await startControl("--reinitialize");
  const workloads = await eventually("workloads listed", async () => {
    const res = await h.run(["ctl", "get", "workloads"], { TESSERA_CONTROL: restarted.address });
    return res.code === 0 ? res.stdout : undefined;
  });
  expect(workloads).not.toContain("web");
  // The same admin token still works (ctl above used it) and the CA is the same.
  expect(readFileSync(join(controlDir(), "admin-token"), "utf8")).toBe(adminToken);
  expect(readFileSync(join(controlDir(), "pki", "ca.pem"), "utf8")).toBe(ca);
  await stopGracefully(restarted.server);
  // Started over, the database is the cluster's again: a plain start goes.
  await startControl();
});

test("a damaged database is named, with what to do", async () => {
  h = new Harness();
  await stopGracefully((await startControl()).server);
  const db = join(controlDir(), "tessera.db");
  writeFileSync(db, Buffer.alloc(64 * 1024, "garbage "));
  for (const side of ["-wal", "-shm"]) rmSync(`${db}${side}`, { force: true });
  const res = await runRefused(controlArgs());
  expect(res.code).toBe(1);
  expect(res.stderr).toContain(`${db} cannot be read (file is not a database): it is damaged or not a Tessera database`);
  expect(res.stderr).toContain("--reinitialize");
  expectOneLine(res.stderr);
});
