/**
 * The Docker executor against a real engine, through dist/tessera. In CI (TESSERA_CI=1)
 * a missing engine fails these tests; locally they are skipped with a visible message.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerSuite, ensureImage, IMAGE, sh } from "./docker-engine.js";
import { checkUntilHeard, E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const docker = dockerSuite("docker e2e");

describe.skipIf(docker.skip)("docker executor", () => {
  const h = new Harness();
  let address = "";
  let agent: Server;
  const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
  const startAgent = () => h.start(["agent", "--control", address, "--name", "node-d", "--executor", "process,docker", "--data-dir", join(h.dir, "agent")]);
  const containers = (workload: string) =>
    sh(["docker", "ps", "--filter", `label=tessera.workload=${workload}`, "--format", "{{.ID}} {{.Names}} {{.Label \"tessera.instance\"}} {{.Label \"tessera.node\"}}"]).out.trim().split("\n").filter(Boolean);
  const apply = async (body: object) => {
    const file = join(h.dir, `${(body as { name: string }).name}.json`);
    writeFileSync(file, JSON.stringify(body));
    expect((await ctl("apply", "-f", file)).code).toBe(0);
  };

  beforeAll(async () => {
    requireBinary();
    docker.require();
    ensureImage();
    address = (await h.startControl()).address;
    agent = startAgent();
    await eventually("node-d Ready", async () => ((await ctl("get", "nodes")).stdout.match(/node-d\s+Ready\s+process,docker/) ? true : undefined));
  });
  afterAll(async () => {
    for (const w of ["box", "checked", "missing", "hog", "spin"]) await ctl("delete", "workload", w);
    // Wait for removal, not just stopping (-a): an agent stopped mid-removal leaves the container behind.
    await eventually("containers removed", () => (sh(["docker", "ps", "-a", "-q", "--filter", "label=tessera.node=node-d"]).out.trim() === "" ? true : undefined), 15_000).catch(() => {});
    await h.stop();
  });

  test("an image workload runs as a labelled container, survives kill -9 of the agent, and goes away on delete", async () => {
    await apply({ name: "box", spec: { image: IMAGE, command: "/bin/sh", args: ["-c", "echo hello from $TESSERA_INSTANCE; exec sleep 3600"], resources: { cpuMillis: 200, memoryMb: 32 }, stopGracePeriod: "1s" } });
    await eventually("box Running", async () => ((await ctl("get", "workloads")).stdout.match(/^box\s+1\/1\s+Running/m) ? true : undefined), 20_000);
    const [line] = containers("box");
    expect(line).toMatch(/^\w+ tessera-box-0\.\d+ box-0\.\d+ node-d$/);
    const id = line!.split(" ")[0]!;
    const limits = sh(["docker", "inspect", "--format", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", id]).out.trim();
    expect(limits).toBe(`${200 * 1_000_000} ${32 * 1024 * 1024}`);
    expect(await eventually("the container's output", async () => {
      const out = (await ctl("logs", "box")).stdout;
      return out.includes("hello from box-0") ? out : undefined;
    })).toBe("box-0 | hello from box-0\n");

    agent.proc.kill("SIGKILL");
    await agent.proc.exited;
    agent = startAgent();
    await agent.waitForLog((l) => l.msg === "adopted a running instance");
    await checkUntilHeard(h, address, agent, "node-d", () => expect(containers("box").map((l) => l.split(" ")[0])).toEqual([id]));
    expect((await ctl("get", "workloads")).stdout).toMatch(/^box\s+1\/1\s+Running/m);

    expect((await ctl("delete", "workload", "box")).code).toBe(0);
    await eventually("the container gone", () => (containers("box").length === 0 && sh(["docker", "ps", "-a", "-q", "--filter", `id=${id}`]).out.trim() === "" ? true : undefined), 20_000);
  });

  test("a container past its memory is OOM-killed with that reason, as a process copy is (#31)", async () => {
    await apply({
      name: "hog",
      spec: { image: IMAGE, command: "/bin/sh", args: ["-c", "/bin/busybox head -c 200m /dev/zero | /bin/busybox tail"], resources: { memoryMb: 16 }, restartPolicy: { initialBackoff: "0.5s", maxBackoff: "2s" } },
    });
    const reason = "OOM killed (memory limit 16 MiB)";
    await eventually("hog OOM-killed", async () => ((await ctl("history", "hog")).stdout.includes(reason) ? true : undefined), 30_000, 300);
    expect((await ctl("delete", "workload", "hog")).code).toBe(0);
  });

  test("a container's usage, from the engine's stats, shows in ctl top (#31)", async () => {
    await apply({ name: "spin", spec: { image: IMAGE, command: "/bin/sh", args: ["-c", "while :; do :; done"], resources: { cpuMillis: 200, memoryMb: 32 }, stopGracePeriod: "1s" } });
    const row = await eventually(
      "a sample of spin",
      async () => (await ctl("top", "instances", "spin")).stdout.split("\n").find((l) => l.startsWith("spin-0 ") && !l.includes("<unknown>")),
      30_000,
      500,
    );
    // The engine's quota holds it near 200m; a loaded machine may give it less.
    const cpu = Number(row.match(/(\d+)m\/200m/)![1]);
    expect(cpu).toBeGreaterThan(50);
    expect(cpu).toBeLessThan(260);
    expect((await ctl("delete", "workload", "spin")).code).toBe(0);
  });

  test("readiness checks run inside the container (exec)", async () => {
    await apply({
      name: "checked",
      spec: {
        image: IMAGE,
        command: "/bin/sh",
        args: ["-c", "touch /ready; exec sleep 3600"],
        stopGracePeriod: "1s",
        checks: [{ name: "file", exec: { command: "/bin/cat", args: ["/ready"] }, interval: "0.3s" }],
      },
    });
    await eventually("checked Ready", async () => ((await ctl("get", "workloads")).stdout.match(/^checked\s+1\/1\s+Running/m) ? true : undefined), 20_000);
    expect((await ctl("get", "instances", "checked", "-o", "wide")).stdout).toMatch(/checked-0\s.*\byes\s+file$/m);
    expect((await ctl("delete", "workload", "checked")).code).toBe(0);
  });

  test("a missing image that cannot be pulled fails the instance with that reason", async () => {
    await apply({ name: "missing", spec: { image: "tessera-test/absent:1", restartPolicy: { mode: "RESTART_MODE_NEVER" } } });
    const line = await eventually(
      "missing Failed",
      async () => (await ctl("get", "instances", "missing")).stdout.split("\n").find((l) => l.includes("Failed")),
      30_000,
    );
    expect(line).toContain("image tessera-test/absent:1 is not present on node node-d and cannot be pulled");
  });
});
