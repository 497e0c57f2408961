/**
 * Streams a caller stops reading do not grow the control plane (issue 27): through dist/tessera,
 * `ctl logs -f` of a copy that prints fast, with a read-only token, stopped so it reads nothing
 * more, is ended RESOURCE_EXHAUSTED and the control plane's memory stays bounded; and a token
 * holds at most so many streams open at once.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClientReadableStream, credentials, Metadata, status } from "@grpc/grpc-js";
import { MAX_STREAMS_PER_TOKEN } from "../../src/control/writer/stream-limits.js";
import { ControlPlaneClient, type LogsResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { BINARY, E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS * 4);

/** The control plane may grow this much (MiB) while four followers stop reading: generous (each may queue 8 MiB); unbounded queues grew it by hundreds in seconds. */
const RSS_GROWTH_MIB = 150;

const h = new Harness();
let address = "";
let control: Server;
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** A client with a token of its own (read-only here). */
function clientWith(token: string): ControlPlaneClient {
  const perCall = credentials.createFromMetadataGenerator((_p, cb) => {
    const md = new Metadata();
    md.set("authorization", `Bearer ${token}`);
    cb(null, md);
  });
  const ca = readFileSync(join(h.dir, "control", "pki", "ca.pem"));
  return new ControlPlaneClient(address, credentials.combineChannelCredentials(credentials.createSsl(ca), perCall), CHANNEL_OPTIONS);
}

/** Resident memory of a process, in MiB. */
function rssMib(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
  return kb / 1024;
}

/** How a stream ended: its status code, once it has. */
function ending(call: ClientReadableStream<unknown>): { code?: status; details?: string } {
  const end: { code?: status; details?: string } = {};
  call.on("error", (e: { code: status; details: string }) => Object.assign(end, { code: e.code, details: e.details }));
  call.on("status", (s: { code: status; details: string }) => end.code ?? Object.assign(end, { code: s.code, details: s.details }));
  return end;
}

let readonly = "";
beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ address, server: control } = await h.startControl());
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", join(h.dir, "agent-a")]);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
    // Long lines, ~200 KB a round with a pause between: about 1.3 MB/s in few messages. Much more,
    // on a loaded machine, and the agent's heartbeats wait behind its log chunks (the node goes Offline).
    const line = "x".repeat(2_000);
    writeFileSync(join(h.dir, "loud.json"), JSON.stringify({ name: "loud", spec: { command: "/bin/sh", args: ["-c", `while :; do yes ${line} | head -n 100; sleep 0.15; done`] } }));
    expect((await ctl("apply", "-f", "loud.json")).code).toBe(0);
    await eventually("loud Running", async () => ((await ctl("get", "instances")).stdout.match(/loud-0\s.*Running/) ? true : undefined), 15_000);
    readonly = (await ctl("token", "create", "--read-only")).stdout.trim();
  }),
);
afterAll(() => h.stop());

describe("bounded streams", () => {
  test("followers of a loud copy that stop reading end RESOURCE_EXHAUSTED; the control plane's memory stays bounded", async () => {
    const before = rssMib(control.proc.pid);
    // `ctl logs -f` stopped (SIGSTOP): it reads nothing more, and its socket fills up.
    const followers = Array.from({ length: 4 }, () =>
      Bun.spawn([BINARY, "ctl", "logs", "-f", "loud"], { cwd: h.dir, env: { ...process.env, TESSERA_DATA_DIR: join(h.dir, "control"), TESSERA_CONTROL: address, TESSERA_TOKEN: readonly }, stdout: "pipe", stderr: "pipe" }),
    );
    // Each has its first lines: the control plane is sending to it.
    await Promise.all(followers.map((f) => f.stdout.getReader().read()));
    for (const f of followers) f.kill("SIGSTOP");
    let peak = before;
    const ended = await eventually(
      "every follower ended by the control plane",
      () => {
        peak = Math.max(peak, rssMib(control.proc.pid));
        const ends = control.logs.filter((l) => l.msg === "rpc" && l.method === "Logs");
        return ends.length >= followers.length ? ends : undefined;
      },
      90_000,
      200,
    );
    expect(ended.map((l) => [l.code, l.details])).toEqual(followers.map(() => ["RESOURCE_EXHAUSTED", "the client reads the log too slowly; ask again (with --tail) to go on"]));
    expect(peak - before).toBeLessThan(RSS_GROWTH_MIB);
    for (const f of followers) f.kill("SIGKILL");
    // The control plane still serves, and a reader that reads gets lines.
    const c = clientWith(readonly);
    const call = c.logs({ workload: "loud", instance: "", tail: 1, follow: false, previous: false });
    const lines: LogsResponse[] = [];
    call.on("data", (l: LogsResponse) => lines.push(l));
    await eventually("a line", () => (lines.length > 0 ? true : undefined));
    c.close();
  });

  test(`a token holds at most ${MAX_STREAMS_PER_TOKEN} streams open; past it RESOURCE_EXHAUSTED, and one closed frees a place`, async () => {
    const c = clientWith(readonly);
    const calls = Array.from({ length: MAX_STREAMS_PER_TOKEN }, () => c.watch({ afterSequence: 0, workload: "loud" }));
    for (const call of calls) call.on("error", () => {});
    // Every one of them open (each got its first event).
    await Promise.all(calls.map((call) => new Promise((r) => call.once("data", r))));
    const over = c.watch({ afterSequence: 0, workload: "loud" });
    const end = ending(over);
    await eventually("the stream past the limit refused", () => end.code);
    expect([status[end.code!], end.details]).toEqual(["RESOURCE_EXHAUSTED", `too many open streams for this token (at most ${MAX_STREAMS_PER_TOKEN}); close some`]);
    calls[0]!.cancel();
    await eventually("a place freed", async () => {
      const again = c.watch({ afterSequence: 0, workload: "loud" });
      const got = await new Promise<boolean>((r) => {
        again.once("data", () => r(true));
        again.once("error", () => r(false));
      });
      again.cancel();
      return got ? true : undefined;
    });
    for (const call of calls) call.cancel();
    c.close();
  });
});
