/**
 * `tessera ctl exec` end to end through dist/tessera: a command in a running copy prints the
 * copy's environment, its exit code is ctl's, stdin is forwarded, Ctrl-C reaches it, a
 * read-only token is refused, and every exec is in the workload's history; for a process and
 * for a container.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerSuite, ensureImage, IMAGE, sh } from "./docker-engine.js";
import { BINARY, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(60_000);

const docker = dockerSuite("container exec");
const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** Starts `tessera ctl ARGS...` with stdin from a pipe, for tests that feed it or signal it. */
function spawnCtl(args: string[]) {
  const proc = Bun.spawn([BINARY, "ctl", ...args], { cwd: h.dir, env: { ...process.env, TESSERA_DATA_DIR: join(h.dir, "control"), TESSERA_CONTROL: address }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let stdout = "";
  const read = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) stdout += decoder.decode(chunk, { stream: true });
  })();
  return { proc, stdout: () => stdout, done: async () => ({ code: await proc.exited, stdout: (await read, stdout), stderr: await new Response(proc.stderr).text() }) };
}

async function applyReady(body: { name: string; spec: object }): Promise<void> {
  const file = join(h.dir, `${body.name}.json`);
  writeFileSync(file, JSON.stringify(body));
  const applied = await ctl("apply", "-f", file, "--wait", "--timeout", "40s");
  expect(applied.stderr).toBe("");
  expect(applied.code).toBe(0);
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    const executors = docker.available ? "process,docker" : "process";
    h.start(["agent", "--control", address, "--name", "node-exec", "--executor", executors, "--data-dir", join(h.dir, "agent")]);
    await eventually("node-exec Ready", async () => ((await ctl("get", "nodes")).stdout.match(/node-exec\s+Ready/) ? true : undefined));
    await applyReady({ name: "shell", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2, env: { MARKER: "exec-marker-7" }, workingDir: h.dir } });
  }),
);
afterAll(async () => {
  for (const w of ["shell", "shellbox"]) await ctl("delete", "workload", w);
  // Wait for removal, not just stopping: a container left behind would be adopted by the next
  // run's node-exec as a copy it does not know.
  await eventually("containers removed", () => (sh(["docker", "ps", "-a", "-q", "--filter", "label=tessera.node=node-exec"]).out.trim() === "" ? true : undefined), 15_000).catch(() => {});
  await h.stop();
});

describe("a process copy", () => {
  test("prints the copy's environment and working directory; the command's exit code is ctl's", async () => {
    const env = await ctl("exec", "shell", "--", "sh", "-c", 'echo "$MARKER $TESSERA_INSTANCE"; pwd');
    expect(env).toEqual({ code: 0, stdout: `exec-marker-7 shell-0\n${h.dir}\n`, stderr: "" });
    const failing = await ctl("exec", "shell", "--instance", "shell-1", "--", "sh", "-c", "echo $TESSERA_INSTANCE; echo on-stderr >&2; exit 9");
    expect(failing).toEqual({ code: 9, stdout: "shell-1\n", stderr: "on-stderr\n" });
  });

  test("stdin is forwarded until it ends", async () => {
    const run = spawnCtl(["exec", "shell", "--", "sh", "-c", "cat; echo end-of-input"]);
    run.proc.stdin.write("first line\nsecond line\n");
    run.proc.stdin.end();
    expect(await run.done()).toEqual({ code: 0, stdout: "first line\nsecond line\nend-of-input\n", stderr: "" });
  });

  test("Ctrl-C reaches the command: a trap answers it; without one it ends as a shell's 130", async () => {
    const trapping = spawnCtl(["exec", "shell", "--", "sh", "-c", 'trap "echo interrupted; exit 42" INT; echo ready; while :; do sleep 0.05; done']);
    await eventually("the command running", () => (trapping.stdout().includes("ready") ? true : undefined));
    trapping.proc.kill("SIGINT");
    expect(await trapping.done()).toEqual({ code: 42, stdout: "ready\ninterrupted\n", stderr: "" });

    const plain = spawnCtl(["exec", "shell", "--", "sh", "-c", "echo ready; exec sleep 3600"]);
    await eventually("the command running", () => (plain.stdout().includes("ready") ? true : undefined));
    plain.proc.kill("SIGINT");
    expect((await plain.done()).code).toBe(130);
  });

  test("refusals: a read-only token, a copy that does not exist, no command", async () => {
    const token = (await ctl("token", "create", "--read-only")).stdout.trim();
    const denied = await ctl("exec", "--token", token, "shell", "--", "env");
    expect(denied).toEqual({ code: 1, stdout: "", stderr: "error: PERMISSION_DENIED: a readonly token may not call Exec\n" });
    const missing = await ctl("exec", "shell", "--instance", "shell-5", "--", "env");
    expect(missing).toEqual({ code: 1, stdout: "", stderr: 'error: NOT_FOUND: instance "shell-5" not found\n' });
    const none = await ctl("exec", "shell");
    expect(none.code).toBe(2);
  });

  test("every exec is in the history, with its command and not its output", async () => {
    const history = await ctl("history", "shell");
    const execs = history.stdout.split("\n").filter((l) => l.includes("InstanceExecStarted"));
    expect(execs.length).toBeGreaterThanOrEqual(5);
    expect(history.stdout).toContain("cat; echo end-of-input");
    expect(history.stdout).not.toContain("first line");
  });
});

describe.skipIf(docker.skip)("a container copy", () => {
  test("prints the copy's environment, forwards stdin, returns the exit code", async () => {
    docker.require();
    ensureImage();
    await applyReady({ name: "shellbox", spec: { image: IMAGE, command: "/bin/sleep", args: ["3600"], env: { MARKER: "box-marker-8" } } });
    const env = await ctl("exec", "shellbox", "--", "sh", "-c", 'echo "$MARKER $TESSERA_INSTANCE"; exit 4');
    expect(env).toEqual({ code: 4, stdout: "box-marker-8 shellbox-0\n", stderr: "" });
    const run = spawnCtl(["exec", "shellbox", "--", "sh", "-c", "cat; echo end-of-input >&2"]);
    run.proc.stdin.write("into the container\n");
    run.proc.stdin.end();
    expect(await run.done()).toEqual({ code: 0, stdout: "into the container\n", stderr: "end-of-input\n" });
  });
});
