/**
 * Snapshots through dist/tessera (issue 34): `ctl snapshot save` during a storm of applies,
 * `control --restore` into a fresh data dir on another port: every workload acknowledged
 * before the save began is there, and the cluster's admin token works. Restored in place of the
 * control plane an agent was connected to, it adopts the agent's copies with none restarted. A
 * truncated or damaged file, and a data dir that holds a database, are refused naming the
 * problem.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSnapshot } from "../../src/control/store/snapshot-file.js";
import { descendantsOf, E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

describe("snapshots", () => {
  const h = new Harness();
  let address = "";
  const ctl = (addr: string, ...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: addr, TESSERA_DATA_DIR: join(h.dir, "control") });
  const manifest = (name: string) => {
    const file = join(h.dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ name, spec: { command: "/bin/sleep", args: ["1"], replicas: 0 } }));
    return file;
  };

  beforeAll(async () => {
    requireBinary();
    address = (await h.startControl()).address;
  });
  afterAll(() => h.stop());

  test("saved during an apply storm, restored on another port: every workload acknowledged before the save is there", async () => {
    const acknowledged: string[] = [];
    let storming = true;
    const storm = (async () => {
      for (let i = 0; storming && i < 200; i++) {
        const name = `s-${i}`;
        if ((await ctl(address, "apply", "-f", manifest(name))).code === 0) acknowledged.push(name);
      }
    })();
    await eventually("five applies acknowledged", () => (acknowledged.length >= 5 ? true : undefined), 20_000, 20);
    const before = [...acknowledged];
    const saved = await ctl(address, "snapshot", "save", join(h.dir, "cluster.snap"));
    storming = false;
    await storm;
    expect(saved.stderr).toBe("");
    expect(saved.stdout).toMatch(/^snapshot .*cluster\.snap: cluster [0-9a-f-]+, events through \d+, taken /);

    const restored = h.start(["control", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir", join(h.dir, "restored"), "--restore", join(h.dir, "cluster.snap")]);
    const line = await restored.waitForLog((l) => l.msg === "control plane listening");
    const there = await ctl(String(line.address), "get", "workloads", "-o", "json");
    expect(there.stderr).toBe("");
    const names = (JSON.parse(there.stdout) as { workloads: Array<{ name: string }> }).workloads.map((w) => w.name);
    expect(names).toEqual(expect.arrayContaining(before));
    // The same cluster: its id; ctl above used the original data dir's CA and admin token.
    expect(readFileSync(join(h.dir, "restored", "cluster-id"), "utf8")).toBe(readFileSync(join(h.dir, "control", "cluster-id"), "utf8"));
    // And the same cluster key: the secrets sealed under it open after a restore (#30).
    expect(readFileSync(join(h.dir, "restored", "secrets.key"), "utf8")).toBe(readFileSync(join(h.dir, "control", "secrets.key"), "utf8"));
  });

  test("a truncated or damaged file, or a data dir holding a database, is refused naming the problem", async () => {
    const whole = readFileSync(join(h.dir, "cluster.snap"));
    writeFileSync(join(h.dir, "cut.snap"), whole.subarray(0, whole.length - 100));
    const flipped = Buffer.from(whole);
    flipped[flipped.length - 10]! ^= 0xff;
    writeFileSync(join(h.dir, "flipped.snap"), flipped);
    const cases: Array<[string, string, string]> = [
      ["cut.snap", "fresh-1", "truncated: its header announces"],
      ["flipped.snap", "fresh-2", "damaged: its SHA-256 does not match"],
      ["cluster.snap", "control", "already holds a database"],
    ];
    for (const [file, dir, problem] of cases) {
      const res = await h.run(["control", "--listen", "127.0.0.1:0", "--data-dir", join(h.dir, dir), "--restore", join(h.dir, file)]);
      expect([file, res.code, res.stderr]).toEqual([file, 2, expect.stringContaining(problem)]);
    }
  });
});

describe("a control plane restored in place of the one its agent knew", () => {
  const h = new Harness();

  beforeAll(() => requireBinary());
  afterAll(() => h.stop());

  test("adopts the agent's running copies: none restarted", async () => {
    const first = await h.startControl();
    const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: first.address });
    const agent = h.start(["agent", "--control", first.address, "--name", "node-a", "--data-dir", join(h.dir, "agent")]);
    writeFileSync(join(h.dir, "web.json"), JSON.stringify({ name: "web", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2 } }));
    expect((await ctl("apply", "-f", "web.json", "--wait")).code).toBe(0);
    const sleeps = () => descendantsOf(agent.proc.pid).filter((c) => c.cmdline.join(" ") === "/bin/sleep 3600").map((c) => c.pid).sort();
    const before = await eventually("two copies running", () => (sleeps().length === 2 ? sleeps() : undefined));
    const copies = async () => ((JSON.parse((await ctl("get", "instances", "web", "-o", "json")).stdout) as { instances: Array<{ id: string; state: string }> }).instances).map((i) => `${i.id} ${i.state}`);
    const ids = await copies();
    expect((await ctl("snapshot", "save", join(h.dir, "web.snap"))).code).toBe(0);

    first.server.proc.kill("SIGTERM");
    await first.server.proc.exited;
    const restored = h.start(["control", "--listen", first.address, "--metrics-listen", "127.0.0.1:0", "--data-dir", join(h.dir, "restored"), "--restore", join(h.dir, "web.snap")]);
    await restored.waitForLog((l) => l.msg === "control plane listening");
    // The agent reconnects (same address, same CA) and reports its copies; they stay.
    await eventually("web 2/2 Running again", async () => {
      const line = (await ctl("get", "workloads")).stdout.split("\n").find((l) => l.startsWith("web "));
      return line?.includes("2/2") ? line : undefined;
    }, 20_000);
    await eventually("node-a heard by the restored control plane", async () => ((await ctl("get", "nodes")).stdout.match(/node-a\s+Ready/) ? true : undefined), 20_000);
    expect(sleeps()).toEqual(before);
    // The same copies, running: none replaced.
    expect(await copies()).toEqual(ids);
  });
});

describe("scheduled snapshots", () => {
  const h = new Harness();

  beforeAll(() => requireBinary());
  afterAll(() => h.stop());

  test("--snapshot-every and --snapshot-keep: owner-only files in DATA_DIR/snapshots, the newest kept, each valid", async () => {
    const { server } = await h.startControl("127.0.0.1:0", {}, ["--snapshot-every", "200ms", "--snapshot-keep", "2"]);
    let taken = 0;
    await server.waitForLog((l) => l.msg === "scheduled snapshot taken" && ++taken === 4);
    const dir = join(h.dir, "control", "snapshots");
    const files = readdirSync(dir).filter((f) => f.endsWith(".snap"));
    expect(files.length).toBeLessThanOrEqual(3);
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
      expect(readSnapshot(join(dir, f)).meta.files.map((x) => x.path)).toContain("tessera.db");
    }
  });
});
