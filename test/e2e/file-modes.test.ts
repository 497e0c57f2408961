/**
 * Files others could read (issue 27), through dist/tessera: a control plane's and an agent's
 * data dirs are 0700, the database, tokens and copies' logs 0600; a data dir others can read or
 * write, and a --ca-secret-file others can read, are refused at start with the fix named.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
afterAll(() => h.stop());
beforeAll(() => requireBinary());

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("modes", () => {
  test("the data dirs are 0700; the database, tokens and a copy's log 0600", async () => {
    const { address } = await h.startControl();
    const agentDir = join(h.dir, "agent-a");
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", agentDir]);
    const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
    writeFileSync(join(h.dir, "talk.json"), JSON.stringify({ name: "talk", spec: { command: "/bin/sh", args: ["-c", "echo the password is hunter2; exec sleep 3600"] } }));
    expect((await ctl("apply", "-f", "talk.json")).code).toBe(0);
    const logs = join(agentDir, "agent", "logs");
    const log = await eventually("talk-0's log", () => (existsSync(logs) ? readdirSync(logs).find((f) => f.endsWith(".log")) : undefined));
    const control = join(h.dir, "control");
    const wanted: Record<string, string> = {
      [control]: "700",
      [join(control, "tessera.db")]: "600",
      [join(control, "tessera.db-wal")]: "600",
      [join(control, "admin-token")]: "600",
      [agentDir]: "700",
      [join(agentDir, "agent")]: "700",
      [logs]: "700",
      [join(logs, log)]: "600",
      [join(agentDir, "agent", "instances")]: "700",
    };
    expect(Object.fromEntries(Object.keys(wanted).map((p) => [p, modeOf(p)]))).toEqual(wanted);
  });
});

describe("refusals", () => {
  test.each(["control", "agent"])("a %s's data dir that others can read is refused, naming chmod 700", async (role) => {
    const dir = join(h.dir, `open-${role}`);
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const args = role === "control" ? ["control", "--listen", "127.0.0.1:0", "--data-dir", dir, "--metrics-listen", ""] : ["agent", "--control", "127.0.0.1:1", "--name", "n", "--data-dir", dir];
    const out = await h.run(args);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(`error: --data-dir: ${dir}: other users can read it (mode 0755); only its owner may: chmod 700 ${dir}\n`);
    chmodSync(dir, 0o700);
  });

  test("a --ca-secret-file that others can read is refused, naming chmod 600", async () => {
    const file = join(h.dir, "ca-secret");
    writeFileSync(file, "a".repeat(64));
    chmodSync(file, 0o644);
    const out = await h.run(["control", "--listen", "127.0.0.1:0", "--data-dir", join(h.dir, "cs"), "--metrics-listen", "", "--ca-secret-file", file]);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(`error: --ca-secret-file: ${file}: other users can read it (mode 0644); only its owner may: chmod 600 ${file}\n`);
  });
});
