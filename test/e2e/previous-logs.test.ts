/**
 * Output of copies that are gone, end to end through dist/tessera: a copy that writes a marker
 * to stderr and exits 7, restarted until the crash loop is quarantined (its replica Pending,
 * every copy that ran stopped and forgotten by the control plane), still shows that marker in
 * `ctl logs --previous` and in plain `ctl logs` (exit 0), for a process and for a container.
 * A copy that recovered: --previous shows the crash before it, plain logs the running copy, or
 * the crash's output when the running copy's node has none. A replica with no ended copy is
 * NOT_FOUND saying so; one whose output is gone says no output is recorded for it on its node;
 * when the node that ran the copy is not connected, UNAVAILABLE names it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerSuite, ensureImage, IMAGE, sh } from "./docker-engine.js";
import { eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(60_000);

const NODE = "node-p";
const docker = dockerSuite("container output after the container is gone");
const h = new Harness();
let address = "";
let agent: Server;
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

async function apply(body: object): Promise<void> {
  const file = join(h.dir, `${(body as { name: string }).name}.json`);
  writeFileSync(file, JSON.stringify(body));
  expect((await ctl("apply", "-f", file)).code).toBe(0);
}

/** Restarted quickly, so that the crash loop is quarantined within seconds. */
const crashing = { mode: "RESTART_MODE_ALWAYS", initialBackoff: "0.1s", maxBackoff: "0.5s" };

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    const executors = docker.available ? "process,docker" : "process";
    agent = h.start(["agent", "--control", address, "--name", NODE, "--executor", executors, "--data-dir", join(h.dir, "agent")]);
    await eventually(`${NODE} Ready`, async () => ((await ctl("get", "nodes")).stdout.match(new RegExp(`${NODE}\\s+Ready`)) ? true : undefined));
  }),
);
afterAll(async () => {
  await h.stop();
  // The agent was killed: nothing removed what its containers left.
  if (docker.available) {
    const left = sh(["docker", "ps", "-a", "-q", "--filter", `label=tessera.node=${NODE}`]).out.trim().split("\n").filter(Boolean);
    if (left.length > 0) sh(["docker", "rm", "-f", ...left]);
  }
});

/**
 * Waits until the workload's only replica is Pending, quarantined, with no copy on a node: every
 * copy that ran has been stopped and forgotten, so only the event log knows them. Then checks
 * that both `logs --previous` and `logs` print what they printed.
 */
async function expectOutputOfGoneCopies(workload: string, marker: string): Promise<void> {
  await eventually(
    `${workload} quarantined, no copy left on a node`,
    async () => {
      const { instances } = JSON.parse((await ctl("get", "instances", workload, "-o", "json")).stdout) as { instances: Array<{ observedState: string; node?: string }> };
      return instances.length === 1 && instances[0]!.observedState === "INSTANCE_STATE_PENDING" && !instances[0]!.node ? true : undefined;
    },
    40_000,
  );
  const previous = await ctl("logs", workload, "--previous");
  expect(previous.stderr).toBe("");
  expect(previous.code).toBe(0);
  expect(previous.stdout).toContain(`${workload}-0 | ${marker}`);
  const named = await ctl("logs", workload, "--instance", `${workload}-0`, "-p");
  expect(named.code).toBe(0);
  expect(named.stdout).toContain(marker);
  const logs = await ctl("logs", workload);
  expect(logs.stderr).toBe("");
  expect(logs.code).toBe(0);
  expect(logs.stdout).toContain(`${workload}-0 | ${marker}`);
}

test("a process copy that crashed: --previous and plain logs print what it wrote, after the control plane forgot it", async () => {
  await apply({ name: "crashloop", spec: { command: "/bin/sh", args: ["-c", "echo out of $TESSERA_INSTANCE_ID; echo process-marker-7 >&2; exit 7"], restartPolicy: crashing } });
  await expectOutputOfGoneCopies("crashloop", "process-marker-7");
});

describe.skipIf(docker.skip)("containers", () => {
  test("a container that crashed and was removed: --previous and plain logs print what it wrote", async () => {
    docker.require();
    ensureImage();
    await apply({ name: "crashbox", spec: { image: IMAGE, command: "/bin/sh", args: ["-c", "echo container-marker-7 >&2; exit 7"], restartPolicy: crashing } });
    await expectOutputOfGoneCopies("crashbox", "container-marker-7");
    // Removed (the agent copies the output out first, then removes; the control plane may forget the copy in between): the output came from the agent's copy.
    await eventually("crashbox's containers removed", () => (sh(["docker", "ps", "-a", "-q", "--filter", `label=tessera.node=${NODE}`, "--filter", "label=tessera.workload=crashbox"]).out.trim() === "" ? true : undefined), 15_000);
  });
});

test("a replica with no ended copy is NOT_FOUND, one copy's id with --previous is refused", async () => {
  await apply({ name: "steady", spec: { command: "/bin/sleep", args: ["3600"], stopGracePeriod: "1s" } });
  const id = await eventually("steady running", async () => (await ctl("get", "instances", "steady")).stdout.match(/(steady-0\.\d+).*Running/)?.[1]);
  const all = await ctl("logs", "steady", "--previous");
  expect(all.code).toBe(1);
  expect(all.stderr).toContain("NOT_FOUND: steady has no ended copy");
  const one = await ctl("logs", "steady", "--instance", "steady-0", "--previous");
  expect(one.stderr).toContain("NOT_FOUND: steady-0 has no ended copy");
  const byId = await ctl("logs", "steady", "--instance", id, "--previous");
  expect(byId.code).toBe(2);
  expect(byId.stderr).toContain(`${id} names one copy`);
});

test("a copy that recovered: --previous prints the crash before it; plain logs its own output, or the crash's when its node has none of it", async () => {
  const ok = join(h.dir, "recovered");
  await apply({
    name: "recovers",
    spec: { command: "/bin/sh", args: ["-c", `if [ -e ${ok} ]; then echo now running; exec sleep 3600; fi; touch ${ok}; echo recovers-marker >&2; exit 7`], restartPolicy: crashing, stopGracePeriod: "1s" },
  });
  const id = await eventually("the second copy running", async () => (await ctl("get", "instances", "recovers")).stdout.match(/(recovers-0\.\d+).*Running/)?.[1]);
  const previous = await ctl("logs", "recovers", "--previous");
  expect(previous.stdout).toBe("recovers-0 | recovers-marker\n");
  await eventually("the running copy's output", async () => ((await ctl("logs", "recovers")).stdout === "recovers-0 | now running\n" ? true : undefined));
  // Its node no longer has its output (as if someone removed the file): the crash's instead.
  rmSync(join(h.dir, "agent", "agent", "logs", `${id}.log`));
  const logs = await ctl("logs", "recovers");
  expect(logs.code).toBe(0);
  expect(logs.stdout).toBe("recovers-0 | recovers-marker\n");
});

test("a process copy whose output is gone: the error says no output is recorded for it on its node, not that a container is missing", async () => {
  await apply({ name: "quiet", spec: { kind: "batch", command: "/bin/true" } });
  const id = await eventually("quiet Succeeded", async () => (await ctl("get", "instances", "quiet")).stdout.match(/(quiet-0\.\d+).*Succeeded/)?.[1]);
  rmSync(join(h.dir, "agent", "agent", "ended-logs", `${id}.log`), { force: true });
  // Restarted, the agent no longer knows which executor ran it, and asks each.
  agent.proc.kill("SIGKILL");
  await agent.proc.exited;
  agent = h.start(["agent", "--control", address, "--name", NODE, "--executor", docker.available ? "process,docker" : "process", "--data-dir", join(h.dir, "agent")]);
  const res = await eventually("the restarted agent answering", async () => {
    const r = await ctl("logs", "quiet");
    return /not connected/.test(r.stderr) ? undefined : r;
  });
  expect(res.stderr).toBe(`error: UNAVAILABLE: no output recorded for copy ${id} on node ${NODE}\n`);
  expect(res.code).toBe(1);
});

test("the node that ran the ended copy is not connected: UNAVAILABLE naming it", async () => {
  agent.proc.kill("SIGKILL");
  await agent.proc.exited;
  const res = await eventually("the agent's stream gone", async () => {
    const r = await ctl("logs", "crashloop", "--previous");
    return r.code !== 0 ? r : undefined;
  });
  expect(res.stderr).toMatch(new RegExp(`UNAVAILABLE: the output of crashloop-0\\.\\d+ is on node ${NODE}, which is not connected`));
});
