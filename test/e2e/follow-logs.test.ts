/**
 * `tessera ctl logs -f` follows a replica from copy to copy, through dist/tessera: started
 * while the replica is between restarts (its copy crashed, the next one backing off), it prints
 * the ended copy's output, waits, then follows each next copy, instead of exiting at once.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(60_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "node-l", "--data-dir", join(h.dir, "agent"), "--dns-listen", ""]);
    await eventually("node-l Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  await ctl("delete", "workload", "flap");
  await h.stop();
});

test("logs -f started between restarts waits for the next copy and follows it", async () => {
  const file = join(h.dir, "flap.json");
  // Runs a moment, exits 1, and is restarted 2 s later: mostly between restarts.
  const spec = { command: "/bin/sh", args: ["-c", 'echo "hello from $TESSERA_INSTANCE_ID"; sleep 0.3; exit 1'], restartPolicy: { mode: "always", initialBackoff: "2s", maxBackoff: "2s" } };
  writeFileSync(file, JSON.stringify({ name: "flap", spec }));
  expect((await ctl("apply", "-f", file)).code).toBe(0);
  // Between restarts: a copy has run and none runs now.
  await eventually("flap between restarts", async () => {
    const instances = JSON.parse((await ctl("get", "instances", "flap", "-o", "json")).stdout).instances as Array<{ observedState: string; attempt: number }>;
    return instances.length > 0 && instances.every((i) => i.observedState !== "INSTANCE_STATE_RUNNING") && instances.some((i) => i.observedState === "INSTANCE_STATE_FAILED") ? true : undefined;
  }, 20_000, 100);
  const follow = Bun.spawn([BINARY, "ctl", "logs", "flap", "-f"], { cwd: h.dir, env: { ...process.env, TESSERA_CONTROL: address, TESSERA_DATA_DIR: join(h.dir, "control") }, stdout: "pipe", stderr: "pipe" });
  let out = "";
  void (async () => {
    for await (const chunk of follow.stdout) out += new TextDecoder().decode(chunk);
  })();
  try {
    // The ended copy's output, then two copies that ran after it.
    const copies = await eventually(
      "three copies' output",
      () => {
        const ids = [...new Set([...out.matchAll(/hello from (flap-0\.\d+)/g)].map((m) => m[1]!))];
        return ids.length >= 3 ? ids : undefined;
      },
      30_000,
      100,
    );
    expect(copies).toHaveLength(3);
    expect(out).toMatch(/^flap-0 \| hello from flap-0\.\d+$/m);
    expect(follow.exitCode).toBeNull();
  } finally {
    follow.kill("SIGINT");
    await follow.exited;
  }
});
