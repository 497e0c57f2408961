/**
 * Readiness checks on the agent: a process copy's checks reach it where it was told to listen
 * (its node's advertised address, TESSERA_HOST_IP), a failing probe says why, and a readiness
 * check that never passes is reported failing with that reason, again when the reason changes.
 * 127.0.0.2 stands for a node's advertised address: on Linux all of 127/8 is this machine, and
 * nothing listening there answers on 127.0.0.1.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ProbeTarget, probe, runChecks } from "../../src/agent/checks.js";
import type { StartRequest } from "../../src/agent/executor.js";
import { ProcessExecutor } from "../../src/agent/process-executor.js";
import type { Check } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const HOST_IP = "127.0.0.2";

/** An HTTP server on `hostname` only, answering `status`; its port. */
function serve(hostname: string, status = 200): number {
  const server = Bun.serve({ hostname, port: 0, fetch: () => new Response("ok", { status }) });
  cleanups.push(() => server.stop(true));
  return server.port!;
}

/** A port nothing listens on (it was free a moment ago). */
function closedPort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

const httpCheck = (probeOf: { port?: number; portName?: string }, over: Partial<Check> = {}): Check => ({
  name: "web",
  role: 1,
  successThreshold: 0,
  failureThreshold: 0,
  probe: { $case: "http", value: { port: probeOf.port ?? 0, portName: probeOf.portName ?? "", path: "/" } },
  ...over,
});

/** Where and how the process executor checks a copy told `hostIp`, with one port `web` on `hostPort`. */
async function processTarget(hostIp: string, hostPort: number): Promise<ProbeTarget> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-checks-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const req: StartRequest = { instanceId: "w-0.1", name: "w-0", workload: "w", generation: 1, spec: spec(), ports: [{ name: "web", hostPort, containerPort: 0, protocol: "tcp" }], hostIp, mounts: [] };
  return new ProcessExecutor(dir, "node-a").probeTarget(req);
}

test("a process copy's named port is checked at the address it was told (TESSERA_HOST_IP), where its endpoint is", async () => {
  const port = serve(HOST_IP);
  const target = await processTarget(HOST_IP, port);
  expect(await probe(httpCheck({ portName: "web" }), target)).toEqual({ passed: true, detail: `GET http://${HOST_IP}:${port}/: 200` });
  // Told loopback (tessera dev), it is checked there.
  const local = serve("127.0.0.1");
  expect(await probe(httpCheck({ portName: "web" }), await processTarget("127.0.0.1", local))).toEqual({ passed: true, detail: `GET http://127.0.0.1:${local}/: 200` });
});

test("a bare port number is checked on loopback, then at the advertised address when nothing listens on loopback", async () => {
  const onHost = serve(HOST_IP);
  const target = await processTarget(HOST_IP, 0);
  expect(await probe(httpCheck({ port: onHost }), target)).toEqual({ passed: true, detail: `GET http://${HOST_IP}:${onHost}/: 200` });
  const onLoopback = serve("127.0.0.1", 503);
  // Loopback answered: its answer stands.
  expect(await probe(httpCheck({ port: onLoopback }), target)).toEqual({ passed: false, detail: `GET http://127.0.0.1:${onLoopback}/: 503` });
});

test("a failing probe says why: refused where it tried, a timeout, an exit code", async () => {
  const port = closedPort();
  const target = await processTarget(HOST_IP, port);
  expect(await probe(httpCheck({ portName: "web" }), target)).toEqual({ passed: false, detail: `GET http://${HOST_IP}:${port}/: connection refused` });
  expect(await probe(httpCheck({ port }), target)).toEqual({ passed: false, detail: `GET http://127.0.0.1:${port}/: connection refused; GET http://${HOST_IP}:${port}/: connection refused` });
  const tcp: Check = { ...httpCheck({}), probe: { $case: "tcp", value: { port: 0, portName: "web" } } };
  expect(await probe(tcp, target)).toEqual({ passed: false, detail: `tcp ${HOST_IP}:${port}: connection refused` });
  const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Bun.sleep(2_000).then(() => new Response()) });
  cleanups.push(() => slow.stop(true));
  expect(await probe(httpCheck({ port: slow.port! }, { timeout: { seconds: 0, nanos: 200_000_000 } }), target)).toEqual({
    passed: false,
    detail: `GET http://127.0.0.1:${slow.port}/: no answer within 200 ms`,
  });
  const exec: Check = { ...httpCheck({}), probe: { $case: "exec", value: { command: "/bin/false", args: [] } } };
  expect(await probe(exec, target)).toEqual({ passed: false, detail: "/bin/false: exit code 1" });
});

test("a readiness check that never passes is reported failing with why, again when why changes, then passing", async () => {
  // Exit codes in turn: two 1s settle it failing (threshold 2), more 1s say nothing new, a 2 does, a 0 passes.
  const codes = [1, 1, 1, 1, 2, 0];
  const target: ProbeTarget = { addressesOf: () => [], ports: {}, exec: async () => codes.shift() ?? 0 };
  const check: Check = { ...httpCheck({}), failureThreshold: 2, interval: { seconds: 0, nanos: 10_000_000 }, probe: { $case: "exec", value: { command: "probe", args: [] } } };
  const reports: Array<[boolean, string]> = [];
  const stop = runChecks({ spec: spec({ checks: [check] }) } as StartRequest, target, (_, passing, detail) => reports.push([passing, detail]));
  cleanups.push(stop);
  await eventually("three reports", () => (reports.length >= 3 ? true : undefined), 5_000, 10);
  expect(reports).toEqual([
    [false, "probe: exit code 1"],
    [false, "probe: exit code 2"],
    [true, "probe: exit code 0"],
  ]);
});
