/**
 * What an agent passes to its process copies, through dist/tessera: PATH, HOME, LANG and what
 * --pass-env names, never the rest of its environment (secrets an operator started it with),
 * in the copy, its exec checks and `ctl exec` alike (#27).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
/** What the agent is started with: secrets of its own, and one variable its operator lets through. */
const AGENT_ENV = { AGENT_SECRET: "agent-secret-value", TESSERA_CA_SECRET: "ca-secret-value-0123", OPERATOR_PROXY: "http://proxy.internal:3128" };

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", join(h.dir, "agent"), "--pass-env", "OPERATOR_PROXY"], AGENT_ENV);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

test("a copy, its checks and exec get PATH, HOME, LANG and --pass-env, never the agent's secrets", async () => {
  const file = join(h.dir, "env.json");
  // The check passes only when the check's own environment holds no secret and the passed variable.
  const check = 'test -z "$AGENT_SECRET" && test -z "$TESSERA_CA_SECRET" && test -n "$OPERATOR_PROXY"';
  writeFileSync(
    file,
    JSON.stringify({
      name: "env",
      spec: { command: "/bin/sh", args: ["-c", "env; exec sleep 3600"], checks: [{ name: "clean", exec: { command: "/bin/sh", args: ["-c", check] }, interval: "0.2s" }] },
    }),
  );
  expect((await ctl("apply", "-f", file)).code).toBe(0);
  await eventually("env Ready through its check", async () => ((await ctl("get", "workloads")).stdout.match(/^env\s+1\/1/m) ? true : undefined), 15_000, 200);
  const logged = await eventually("the copy's environment in its log", async () => {
    const out = (await ctl("logs", "env")).stdout;
    return out.includes("TESSERA_WORKLOAD=env") ? out : undefined;
  });
  const names = logged.split("\n").map((l) => l.replace(/^env-0 \| /, "").split("=")[0]!);
  expect(names).toContain("PATH");
  expect(logged).toContain("OPERATOR_PROXY=http://proxy.internal:3128");
  expect(logged).not.toContain("agent-secret-value");
  expect(logged).not.toContain("ca-secret-value");
  // Nothing of the agent's own TESSERA_ settings (its data dir, log level).
  expect(names.filter((n) => n.startsWith("TESSERA_") && /DATA_DIR|LOG|CA_SECRET/.test(n))).toEqual([]);
  const inside = await ctl("exec", "env", "--", "/usr/bin/env");
  expect(inside.code).toBe(0);
  expect(inside.stdout).toContain("OPERATOR_PROXY=");
  expect(inside.stdout).not.toContain("agent-secret-value");
});

test("--pass-env refuses a TESSERA_ name and names the flag", async () => {
  const res = await h.run(["agent", "--control", address, "--name", "node-x", "--data-dir", join(h.dir, "agent-x"), "--pass-env", "TESSERA_TOKEN"]);
  expect(res.code).not.toBe(0);
  expect(res.stderr).toContain("--pass-env: TESSERA_TOKEN is one of the agent's own settings");
});
