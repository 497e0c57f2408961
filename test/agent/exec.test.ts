/**
 * Executor.exec, one contract for both executors: the command runs with the copy's environment
 * and working directory, reads forwarded stdin to its end, keeps stdout and stderr apart,
 * reports its exit code, takes signals, and a missing program exits 127 as in a shell (126 from
 * Docker's engine, as `docker exec` reports it). The
 * Docker half runs against a real engine (skipped without one, a failure in CI).
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerExecutor } from "../../src/agent/docker-executor.js";
import { shellExitCode } from "../../src/agent/exec-sessions.js";
import type { ExecProcess, Executor, Exit, Running, StartRequest } from "../../src/agent/executor.js";
import { ProcessExecutor } from "../../src/agent/process-executor.js";
import { spec } from "../core/fixtures.js";
import { dockerSuite, ensureImage, IMAGE, sh } from "../e2e/docker-engine.js";
import { eventually } from "../e2e/harness.js";

setDefaultTimeout(30_000);

interface Run {
  proc: ExecProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<Exit>;
}

async function run(executor: Executor, instanceId: string, command: string[], stdin = false): Promise<Run> {
  const out = { stdout: "", stderr: "" };
  const decoder = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  const proc = await executor.exec({ instanceId, command, stdin, output: (stream, data) => (out[stream] += decoder[stream].decode(data, { stream: true })) });
  return { proc, stdout: () => out.stdout, stderr: () => out.stderr, exit: proc.exited };
}

function contract(name: string, setup: () => { executor: Executor; start: (id: string) => Promise<Running>; workingDir: string }) {
  describe(name, () => {
    const started: Running[] = [];
    let ctx: ReturnType<typeof setup>;
    let id = 0;
    const copy = async () => {
      const instanceId = `ex-0.${process.pid}${++id}`;
      started.push(await ctx.start(instanceId));
      return instanceId;
    };
    beforeAll(() => {
      ctx = setup();
    });
    afterEach(async () => {
      await Promise.all(started.splice(0).map((r) => r.stop(100)));
    });

    test("runs with the copy's environment and working directory; stdout, stderr and the exit code apart", async () => {
      const instanceId = await copy();
      const r = await run(ctx.executor, instanceId, ["sh", "-c", 'echo "$MARKER $TESSERA_INSTANCE_ID"; pwd; echo to-stderr >&2; exit 5']);
      expect(await r.exit).toEqual({ exitCode: 5, signal: null });
      expect(r.stdout()).toBe(`from-spec ${instanceId}\n${ctx.workingDir}\n`);
      expect(r.stderr()).toBe("to-stderr\n");
    });

    test("forwarded stdin is read to its end, and output written after the end still arrives", async () => {
      const instanceId = await copy();
      const r = await run(ctx.executor, instanceId, ["sh", "-c", "cat; echo after-eof"], true);
      r.proc.write(Buffer.from("line one\n"));
      r.proc.write(Buffer.from("line two\n"));
      r.proc.endInput();
      expect(await r.exit).toEqual({ exitCode: 0, signal: null });
      expect(r.stdout()).toBe("line one\nline two\nafter-eof\n");
    });

    test("without stdin the command reads end of file at once", async () => {
      const instanceId = await copy();
      const r = await run(ctx.executor, instanceId, ["sh", "-c", "cat; echo done"]);
      expect(await r.exit).toEqual({ exitCode: 0, signal: null });
      expect(r.stdout()).toBe("done\n");
    });

    test("a signal reaches the command: SIGINT to a trap, SIGKILL ends it as 137", async () => {
      const instanceId = await copy();
      const trapping = await run(ctx.executor, instanceId, ["sh", "-c", 'trap "echo interrupted; exit 42" INT; echo ready; while :; do sleep 0.05; done']);
      await eventually("the command to start", () => (trapping.stdout().includes("ready") ? true : undefined), 10_000, 10);
      trapping.proc.signal("SIGINT");
      expect(shellExitCode(await trapping.exit)).toBe(42);
      expect(trapping.stdout()).toBe("ready\ninterrupted\n");

      const looping = await run(ctx.executor, instanceId, ["sh", "-c", "echo ready; while :; do sleep 0.05; done"]);
      await eventually("the command to start", () => (looping.stdout().includes("ready") ? true : undefined), 10_000, 10);
      looping.proc.signal("SIGKILL");
      expect(shellExitCode(await looping.exit)).toBe(137);
    });

    test("a program that does not exist exits 127 (the engine's exec: 126) and says so", async () => {
      const instanceId = await copy();
      const r = await run(ctx.executor, instanceId, ["no-such-program-here"]);
      expect([126, 127]).toContain(shellExitCode(await r.exit));
      expect(r.stdout() + r.stderr()).toContain("no-such-program-here");
    });

    test("an instance that does not run here is refused", async () => {
      expect(run(ctx.executor, "ex-9.999999", ["true"])).rejects.toThrow("ex-9.999999 is not running on this node");
    });
  });
}

const request = (instanceId: string, over: Partial<StartRequest["spec"]>): StartRequest => ({
  instanceId,
  name: instanceId.split(".")[0]!,
  workload: "ex",
  generation: 1,
  spec: spec({ env: { MARKER: "from-spec" }, ...over }),
  ports: [],
  hostIp: "127.0.0.1",
  mounts: [],
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

contract("process executor exec", () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-exec-"));
  const workingDir = realpathSync(mkdtempSync(join(tmpdir(), "tessera-exec-cwd-")));
  dirs.push(dir, workingDir);
  const executor = new ProcessExecutor(dir, "node-a");
  return { executor, workingDir, start: (id) => executor.start(request(id, { command: "/bin/sleep", args: ["3600"], workingDir })) };
});

const docker = dockerSuite("docker executor exec");
describe.skipIf(docker.skip)("docker", () => {
  const node = `exec-test-${process.pid}`;
  beforeAll(() => {
    docker.require();
    ensureImage();
  });
  afterAll(() => {
    const ids = sh(["docker", "ps", "-a", "-q", "--filter", `label=tessera.node=${node}`]).out.trim().split("\n").filter(Boolean);
    if (ids.length > 0) sh(["docker", "rm", "-f", ...ids]);
  });
  contract("docker executor exec", () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-exec-docker-"));
    dirs.push(dir);
    const executor = new DockerExecutor(node, dir);
    return { executor, workingDir: "/tmp", start: (id) => executor.start(request(id, { image: IMAGE, command: "/bin/sleep", args: ["3600"], workingDir: "/tmp" })) };
  });
});
