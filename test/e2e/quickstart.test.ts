/**
 * The README quickstart, end to end through dist/tessera: control plane and agent as separate
 * processes on free loopback ports, `tessera ctl` as a user would type it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { descendantsOf, E2E_TIMEOUT_MS, eventually, Harness, isAlive, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const QUICKSTART = '{"name":"web","spec":{"command":"/bin/sleep","args":["3600"]}}';

describe("quickstart with the process executor", () => {
  const h = new Harness();
  let address = "";
  let agentPid = 0;
  const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

  beforeAll(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    const agent = h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", join(h.dir, "agent")]);
    agentPid = agent.proc.pid;
    await agent.waitForLog((l) => l.msg === "connecting to control plane");
    writeFileSync(join(h.dir, "web.json"), QUICKSTART);
  });
  afterAll(() => h.stop());

  test("apply converges to Running on node-a with a real /bin/sleep", async () => {
    const applied = await ctl("apply", "-f", "web.json");
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("workload/web created");

    const row = await eventually("web Running on node-a", async () => {
      const out = (await ctl("get", "workloads")).stdout;
      const line = out.split("\n").find((l) => l.startsWith("web "));
      return line && /\bRunning\b/.test(line) && line.includes("node-a") ? line : undefined;
    });
    expect(row).toContain("1/1");

    const sleeps = descendantsOf(agentPid).filter((c) => c.cmdline.join(" ") === "/bin/sleep 3600");
    expect(sleeps).toHaveLength(1);

    const nodes = await ctl("get", "nodes");
    expect(nodes.stdout).toMatch(/node-a\s+Ready\s+process\s+1\s+100m\/\d+m\s+64Mi\/\d+Mi/);

    // Re-applying the same manifest changes nothing.
    const again = await ctl("apply", "-f", "web.json");
    expect(again.stdout).toContain("workload/web unchanged (generation 1)");

    const described = await ctl("describe", "workload", "web");
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/web-0\s+web-0\.\d+\s+Run\s+Running\s+node-a/);
  });

  test("delete stops the process and the workload leaves the list", async () => {
    const before = descendantsOf(agentPid).find((c) => c.cmdline.join(" ") === "/bin/sleep 3600");
    expect(before).toBeDefined();
    const deleted = await ctl("delete", "workload", "web");
    expect(deleted.code).toBe(0);
    await eventually("web gone from get workloads", async () => ((await ctl("get", "workloads")).stdout.includes("No workloads.") ? true : undefined));
    await eventually("the sleep process to end", () => (isAlive(before!.pid) ? undefined : true));
    expect(descendantsOf(agentPid)).toHaveLength(0);
  });

  test("the control address can also be given right after ctl", async () => {
    const res = await h.run(["ctl", "--control", address, "get", "nodes"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("node-a");
  });

  test("bad manifests are refused with the field named, and nothing is applied", async () => {
    writeFileSync(join(h.dir, "typo.json"), '{"name":"web","spec":{"comand":"/bin/sleep"}}');
    const typo = await ctl("apply", "-f", "typo.json");
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('key "comand" is unknown');

    writeFileSync(join(h.dir, "name.json"), '{"name":"Web_1","spec":{"command":"/bin/sleep"}}');
    const name = await ctl("apply", "-f", "name.json");
    expect(name.code).toBe(2);
    expect(name.stderr).toContain("workload.name");

    expect((await ctl("get", "workloads")).stdout).toContain("No workloads.");
  });

  test("an unreachable control plane is one clear line, exit 1", async () => {
    const res = await h.run(["ctl", "get", "workloads"], { TESSERA_CONTROL: "127.0.0.1:1" });
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe("error: cannot reach the control plane at 127.0.0.1:1 — is `tessera control` running?");
  });
});

describe("quickstart with --simulated", () => {
  const h = new Harness();
  let address = "";
  let control: Server;

  beforeAll(async () => {
    requireBinary();
    ({ address, server: control } = await h.startControl());
  });
  afterAll(() => h.stop());

  test("converges to Running without spawning anything, and survives kill -9 of the control plane", async () => {
    const agent = h.start(["agent", "--control", address, "--name", "node-a", "--simulated"]);
    writeFileSync(join(h.dir, "web.json"), QUICKSTART);
    const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
    expect((await ctl("apply", "-f", "web.json")).code).toBe(0);
    await eventually("web Running", async () => ((await ctl("get", "workloads")).stdout.match(/^web\s+1\/1\s+Running/m) ? true : undefined));
    expect(descendantsOf(agent.proc.pid)).toHaveLength(0);
    const instanceId = (await ctl("describe", "workload", "web")).stdout.match(/web-0\.\d+/)![0];

    control.proc.kill("SIGKILL");
    await control.proc.exited;
    await h.startControl(address);
    // The agent reconnects and reports what it holds; the control plane adopts it.
    await eventually("web Running again", async () => ((await ctl("get", "workloads")).stdout.match(/^web\s+1\/1\s+Running/m) ? true : undefined));
    const described = (await ctl("describe", "workload", "web")).stdout;
    expect(described.match(/web-0\.\d+/g)!.every((id) => id === instanceId)).toBe(true);
    expect(described).toMatch(/web-0\s+\S+\s+Run\s+Running\s+node-a/);
  });
});
