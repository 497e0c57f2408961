/**
 * Snapshots on PostgreSQL through dist/tessera (issue 34): `ctl snapshot save` from a leader on
 * one database, `control --restore FILE --store` into a new database, a control plane started
 * on it in place of the first: the agent's copies are adopted, none restarted, and the
 * cluster's admin token and CA (sealed in the snapshot, opened with the same CA secret) work.
 * The restored leader takes the scheduled snapshots, a standby beside it none. A truncated file,
 * and a database that already holds a cluster, are refused naming the problem.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSnapshot } from "../../src/control/store/snapshot-file.js";
import { descendantsOf, E2E_TIMEOUT_MS, eventually, Harness, leadingServes, requireBinary } from "./harness.js";
import { type PostgresServer, postgresSuite } from "./postgres-server.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const SECRET = "postgres snapshot e2e CA secret";
const pg = postgresSuite("snapshots on PostgreSQL, end to end");
const h = new Harness();
let server: PostgresServer | undefined;

beforeAll(() =>
  h.explaining(async () => {
    if (pg.skip) return;
    requireBinary();
    server = await pg.start();
  }),
);
afterAll(async () => {
  await h.stop();
  server?.remove();
});

test.skipIf(pg.skip)("saved on one database, restored into another in place of the first control plane: the agent's copies adopted, none restarted", async () => {
  const first = await h.startControl("127.0.0.1:0", { TESSERA_STORE: server!.url, TESSERA_CA_SECRET: SECRET });
  const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: first.address });
  const agent = h.start(["agent", "--control", first.address, "--name", "node-a", "--data-dir", join(h.dir, "agent")]);
  writeFileSync(join(h.dir, "web.json"), JSON.stringify({ name: "web", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2 } }));
  expect((await ctl("apply", "-f", "web.json", "--wait")).code).toBe(0);
  const sleeps = () => descendantsOf(agent.proc.pid).filter((c) => c.cmdline.join(" ") === "/bin/sleep 3600").map((c) => c.pid).sort();
  const before = await eventually("two copies running", () => (sleeps().length === 2 ? sleeps() : undefined));
  const copies = async () => ((JSON.parse((await ctl("get", "instances", "web", "-o", "json")).stdout) as { instances: Array<{ id: string; state: string }> }).instances).map((i) => `${i.id} ${i.state}`);
  const ids = await copies();
  const snap = join(h.dir, "web.snap");
  const saved = await ctl("snapshot", "save", snap);
  expect([saved.code, saved.stderr]).toEqual([0, ""]);
  expect(saved.stdout).toMatch(/^snapshot .*web\.snap: cluster [0-9a-f-]+, events through \d+, taken /);
  expect(readSnapshot(snap).meta.store).toBe("postgres");

  first.server.proc.kill("SIGTERM");
  await first.server.proc.exited;
  const restoredUrl = await server!.createDatabase("restored");
  const env = { TESSERA_STORE: restoredUrl, TESSERA_CA_SECRET: SECRET };
  const schedule = ["--snapshot-every", "200ms", "--snapshot-keep", "2"];
  const restored = h.start(["control", "--listen", first.address, "--metrics-listen", "127.0.0.1:0", "--data-dir", join(h.dir, "restored"), "--restore", snap, ...schedule], env);
  await restored.waitForLog(leadingServes, 20_000);
  // The same cluster, its CA from the snapshot: the agent reconnects to the same address and reports its copies; they stay.
  expect(readFileSync(join(h.dir, "restored", "cluster-id"), "utf8")).toBe(readFileSync(join(h.dir, "control", "cluster-id"), "utf8"));
  expect(readFileSync(join(h.dir, "restored", "pki", "ca.pem"), "utf8")).toBe(readFileSync(join(h.dir, "control", "pki", "ca.pem"), "utf8"));
  await eventually("node-a heard by the restored control plane", async () => ((await ctl("get", "nodes")).stdout.match(/node-a\s+Ready/) ? true : undefined), 20_000);
  await eventually("web 2/2 Running again", async () => {
    const line = (await ctl("get", "workloads")).stdout.split("\n").find((l) => l.startsWith("web "));
    return line?.includes("2/2") ? line : undefined;
  }, 20_000);
  expect(sleeps()).toEqual(before);
  expect(await copies()).toEqual(ids);

  // A standby on the restored database takes no scheduled snapshots; the leader does, of its tables.
  const standby = h.start(["control", "--listen", "127.0.0.1:0", "--metrics-listen", "", "--data-dir", join(h.dir, "standby"), ...schedule], env);
  await standby.waitForLog((l) => l.msg === "control plane listening");
  let taken = 0;
  await restored.waitForLog((l) => l.msg === "scheduled snapshot taken" && ++taken === 3, 20_000);
  const dir = join(h.dir, "restored", "snapshots");
  const files = readdirSync(dir).filter((f) => f.endsWith(".snap"));
  expect(files.length).toBeGreaterThanOrEqual(1);
  for (const f of files) expect(readSnapshot(join(dir, f)).meta.store).toBe("postgres");
  expect(existsSync(join(h.dir, "standby", "snapshots"))).toBe(false);
});

test.skipIf(pg.skip)("a truncated file, and a database that already holds a cluster, are refused naming the problem", async () => {
  const whole = readFileSync(join(h.dir, "web.snap"));
  writeFileSync(join(h.dir, "cut.snap"), whole.subarray(0, whole.length - 100));
  const empty = await server!.createDatabase("never_written");
  const cases: Array<[string, string, string]> = [
    ["cut.snap", empty, "truncated: its header announces"],
    ["web.snap", server!.url, "already holds Tessera's tables with rows"],
  ];
  for (const [file, url, problem] of cases) {
    const res = await h.run(["control", "--listen", "127.0.0.1:0", "--data-dir", join(h.dir, `refused-${file}`), "--restore", join(h.dir, file)], { TESSERA_STORE: url, TESSERA_CA_SECRET: SECRET });
    expect([file, res.code, res.stderr]).toEqual([file, 2, expect.stringContaining(problem)]);
  }
});
