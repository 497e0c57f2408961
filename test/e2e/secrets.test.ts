/**
 * Secrets and configs through the compiled binary (#30): created from literals, files and an
 * env file, listed without values (a read-only token may list, never write), kept across a
 * restart; and the leak scan: after the run, a known secret value is nowhere Tessera writes or
 * answers (invariant 37).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

/** The value no byte Tessera writes or answers may hold, and the forms it could leak in. */
const VALUE = `leak-canary-${crypto.randomUUID()}`;
const FILE_VALUE = `file-canary-${crypto.randomUUID()}`;
const FORMS = [VALUE, FILE_VALUE].flatMap((v) => [v, Buffer.from(v).toString("base64"), Buffer.from(v).toString("base64url"), Buffer.from(v).toString("hex")]);

const h = new Harness();
let address = "";
let http = "";
let control: Server;
let agent: Server;
const ctl = (args: string[], env: Record<string, string> = {}) => h.run(["ctl", ...args], { TESSERA_CONTROL: address, ...env });
const admin = () => readFileSync(join(h.dir, "control", "admin-token"), "utf8").trim();

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ server: control, address, metricsAddress: http } = await h.startControl());
    agent = h.start(["agent", "--control", address, "--name", "sim-1", "--simulated", "--data-dir", join(h.dir, "agent")]);
    await eventually("sim-1 Ready", async () => ((await ctl(["get", "nodes"])).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

/** What a following stream sent within `ms` (it never ends by itself). */
async function followFor(url: string, headers: Record<string, string>, ms: number): Promise<string> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const reader = res.body!.getReader();
  let text = "";
  const stop = setTimeout(() => abort.abort(), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } catch {
    // Aborted at the end of the window: what came is in `text`.
  } finally {
    clearTimeout(stop);
  }
  return text;
}

/** Every file under a directory, with its path. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
}

test("create, update and list secrets and configs; a read-only token lists and cannot write; kept across a restart", async () => {
  writeFileSync(join(h.dir, "password.txt"), FILE_VALUE);
  writeFileSync(join(h.dir, "app.env"), "# comment\nUSER=app\nLEVEL=debug\n");
  const created = await ctl(["secret", "create", "db", "--from-literal", `token=${VALUE}`, "--from-file", `password=${join(h.dir, "password.txt")}`, "--from-env-file", join(h.dir, "app.env")]);
  expect(created).toMatchObject({ code: 0, stdout: "secret db version 1\n" });
  expect((await ctl(["secret", "create", "db", "--from-literal", "x=y"])).stderr).toContain('secret "db" exists already');
  expect((await ctl(["secret", "update", "db", "--from-literal", `token=${VALUE}`, "--from-literal", "rotated=2"])).stdout).toBe("secret db version 2\n");
  const tooBig = await ctl(["secret", "update", "db", "--from-literal", `big=${"x".repeat(70_000)}`]);
  expect(tooBig.stderr).toContain('secret.data["big"]: expected a value of at most 65536 bytes');
  expect((await ctl(["config", "create", "app", "--from-literal", "app.conf=level=debug"])).code).toBe(0);

  const listed = JSON.parse((await ctl(["get", "secrets", "-o", "json"])).stdout);
  expect(listed.secrets).toEqual([expect.objectContaining({ name: "db", version: "2", keys: [{ key: "rotated", size: "1" }, { key: "token", size: String(VALUE.length) }] })]);
  const configs = JSON.parse((await ctl(["get", "configs", "-o", "json"])).stdout);
  expect(Buffer.from(configs.configs[0].data["app.conf"], "base64").toString()).toBe("level=debug");

  const readonly = (await ctl(["token", "create", "--read-only"])).stdout.trim();
  expect((await ctl(["get", "secrets"], { TESSERA_TOKEN: readonly })).stdout).toContain("token(");
  const denied = await ctl(["secret", "update", "db", "--from-literal", "a=b"], { TESSERA_TOKEN: readonly });
  expect(denied.code).not.toBe(0);
  expect(denied.stderr).toContain("PutSecret");

  control.proc.kill("SIGTERM");
  await control.proc.exited;
  ({ server: control, address, metricsAddress: http } = await h.startControl());
  expect(JSON.parse((await ctl(["get", "secrets", "-o", "json"])).stdout).secrets[0].version).toBe("2");
  expect((await ctl(["delete", "config", "app"])).stdout).toBe("config app deleted\n");
});

test("the leak scan: the values are in no file, log, answer, event or metric", async () => {
  const answers: string[] = [];
  for (const args of [["get", "secrets", "-o", "json"], ["events"], ["get", "configs", "-o", "yaml"], ["get", "nodes", "-o", "json"]]) answers.push((await ctl(args)).stdout);
  const auth = { authorization: `Bearer ${admin()}` };
  for (const path of ["/v1/secrets", "/v1/configs", "/metrics"]) answers.push(await (await fetch(`http://${http}${path}`, { headers: auth })).text());
  answers.push(await followFor(`http://${http}/v1/events/stream?from=0`, auth, 1_000));
  control.proc.kill("SIGTERM");
  agent.proc.kill("SIGTERM");
  await Promise.all([control.proc.exited, agent.proc.exited]);
  expect(answers.join("\n")).toContain('"SecretUpdated"');
  const logs = [control, agent].map((s) => JSON.stringify(s.logs));
  const files = filesUnder(h.dir).filter((p) => !p.endsWith("password.txt"));
  expect(files.some((p) => p.endsWith("tessera.db-wal") || p.endsWith("tessera.db"))).toBe(true);
  const leaks = [
    ...answers.map((text, i) => ({ where: `answer ${i}`, text })),
    ...logs.map((text, i) => ({ where: `log ${i}`, text })),
    ...files.map((p) => ({ where: p, text: readFileSync(p).toString("latin1") })),
  ].filter(({ text }) => FORMS.some((f) => text.includes(f)));
  expect(leaks.map((l) => l.where)).toEqual([]);
});
