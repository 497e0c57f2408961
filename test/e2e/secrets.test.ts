/**
 * Secrets and configs through the compiled binary (#30): created from literals, files and an
 * env file, listed without values (a read-only token may list, never write), kept across a
 * restart; read by a process and a container; refreshed in place under onChange signal; the
 * cluster key rotated; and the leak scan: after the run, a known secret value is nowhere Tessera writes or
 * answers (invariant 39).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Database } from "bun:sqlite";
import { generationOf, SecretSealer, SecretSealMismatch } from "../../src/control/security/secret-seal.js";
import { dockerSuite, ensureImage, IMAGE, sh } from "./docker-engine.js";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

/** The value no byte Tessera writes or answers may hold, and the forms it could leak in. */
const VALUE = `leak-canary-${crypto.randomUUID()}`;
const ROTATED = `rotated-canary-${crypto.randomUUID()}`;
const FILE_VALUE = `file-canary-${crypto.randomUUID()}`;
const FORMS = [VALUE, ROTATED, FILE_VALUE].flatMap((v) => [v, Buffer.from(v).toString("base64"), Buffer.from(v).toString("base64url"), Buffer.from(v).toString("hex")]);

/** A container's secrets are tested where an engine answers; the rest of the file runs without one. */
const docker = dockerSuite("secrets in a container");
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
    agent = h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", join(h.dir, "agent"), ...(docker.available ? ["--executor", "process,docker"] : [])]);
    await eventually("node-a Ready", async () => ((await ctl(["get", "nodes"])).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  // A failed container test leaves its container behind: the agent leaves copies running when it exits.
  const left = docker.available ? sh(["docker", "ps", "-a", "-q", "--filter", "label=tessera.workload=boxed", "--filter", "label=tessera.node=node-a"]).out.trim() : "";
  if (left !== "") sh(["docker", "rm", "-f", ...left.split("\n")]);
  await h.stop();
});

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
  // On the same address: the agent comes back to it.
  ({ server: control, metricsAddress: http } = await h.startControl(address));
  expect(JSON.parse((await ctl(["get", "secrets", "-o", "json"])).stdout).secrets[0].version).toBe("2");
  expect((await ctl(["delete", "config", "app"])).stdout).toBe("config app deleted\n");
});

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
/** The copy prints digests of its secret file and env (never the values), its config, the file's mode, and stays. */
const READER = 'sha256sum "$TESSERA_SECRETS_DIR/db/token" | cut -d" " -f1; printf %s "$TOKEN" | sha256sum | cut -d" " -f1; cat "$TESSERA_CONFIGS_DIR/web-conf/app.conf"; echo; stat -c %a "$TESSERA_SECRETS_DIR/db/token"; echo "$TESSERA_SECRETS_DIR"; exec sleep 3600';

test("a process copy reads its secret file, its config file and its env; it waits Pending for a missing config; its files go when it ends", async () => {
  const manifest = { name: "reader", spec: { command: "/bin/sh", args: ["-c", READER], secrets: [{ name: "db" }], configs: [{ name: "web-conf" }], secretEnv: { TOKEN: { secret: "db", key: "token" } }, update: { minHealthyTime: "1s" } } };
  writeFileSync(join(h.dir, "reader.json"), JSON.stringify(manifest));
  expect((await ctl(["apply", "-f", join(h.dir, "reader.json")])).code).toBe(0);
  await eventually("reader Pending for its config", async () => ((await ctl(["get", "instances", "reader"])).stdout.includes("config web-conf does not exist") ? true : undefined));
  expect((await ctl(["config", "create", "web-conf", "--from-literal", "app.conf=listen 8080"])).code).toBe(0);
  // Generation 2: the config's first version, made while it waited, rolled it (as any new version would).
  const lines = await outputOfNewest(2);
  expect(lines.slice(0, 4)).toEqual([sha256(VALUE), sha256(VALUE), "listen 8080", "400"]);
  const dir = lines[4]!;
  expect(dir).toStartWith("/dev/shm/");
  expect(dir).not.toContain(h.dir);
  expect(existsSync(join(dir, "db", "token"))).toBe(true);

  // Rotation: the new version rolls the copy; undo goes back to the version before.
  expect((await ctl(["secret", "update", "db", "--from-literal", `token=${ROTATED}`])).stdout).toBe("secret db version 3\n");
  expect((await outputOfNewest(3)).slice(0, 2)).toEqual([sha256(ROTATED), sha256(ROTATED)]);
  const history = (await ctl(["rollout", "history", "reader"])).stdout;
  expect(history).toMatch(/^2\s.*secret\/db=2,config\/web-conf=1$/m);
  expect(history).toMatch(/^3\s.*secret\/db=3,config\/web-conf=1$/m);
  expect((await ctl(["rollout", "undo", "reader"])).code).toBe(0);
  // Undo keeps a copy of generation 2 still running, else starts one of generation 4: either runs version 2.
  expect((await outputOfNewest((g) => g !== 3)).slice(0, 2)).toEqual([sha256(VALUE), sha256(VALUE)]);

  expect((await ctl(["delete", "workload", "reader"])).code).toBe(0);
  await eventually("the copies' secret files removed", () => (existsSync(dirname(dir)) && readdirSync(dirname(dir)).length > 0 ? undefined : true), 15_000);
});

/** The container prints digests of its secret file and env, its config, the file's mode and whether it may write there, then its config at each SIGHUP. */
const BOXED = "cd /run/secrets/db; /bin/busybox sha256sum token | /bin/busybox cut -d' ' -f1; printf %s \"$TOKEN\" | /bin/busybox sha256sum | /bin/busybox cut -d' ' -f1; cat /etc/app/app.conf; echo; /bin/busybox stat -c %a token; /bin/busybox touch new 2>/dev/null && echo rw || echo ro; trap \"echo hup \\$(cat /etc/app/app.conf)\" HUP; while :; do sleep 1; done";

test.skipIf(docker.skip)("a container reads its secret file, its config file and its env at their mount paths, read-only; under onChange signal a new version reaches it in place with SIGHUP; its files go when it ends", async () => {
  docker.require();
  ensureImage();
  const manifest = { name: "boxed", spec: { image: IMAGE, command: "/bin/sh", args: ["-c", BOXED], stopGracePeriod: "1s", secrets: [{ name: "db", mountPath: "/run/secrets/db" }], configs: [{ name: "web-conf", mountPath: "/etc/app" }], secretEnv: { TOKEN: { secret: "db", key: "token" } }, onChange: "signal" } };
  writeFileSync(join(h.dir, "boxed.json"), JSON.stringify(manifest));
  expect((await ctl(["apply", "-f", join(h.dir, "boxed.json")])).code).toBe(0);
  // The secret's current version is the rotated one.
  const lines = await h.explaining(() =>
    eventually("boxed's output", async () => {
      const out = (await ctl(["logs", "boxed"])).stdout.split("\n").map((l) => l.replace(/^boxed-0 \| /, ""));
      return out.length >= 5 && out[4] !== "" ? out : undefined;
    }, 20_000),
  );
  expect(lines.slice(0, 5)).toEqual([sha256(ROTATED), sha256(ROTATED), "listen 8080", "400", "ro"]);
  const id = sh(["docker", "ps", "-q", "--filter", "label=tessera.workload=boxed"]).out.trim();
  const sources = sh(["docker", "inspect", "--format", "{{range .Mounts}}{{.Source}} {{end}}", id]).out.trim().split(" ");
  expect(sources.map((p) => p.startsWith("/dev/shm/"))).toEqual([true, true]);
  // A new version reaches the mounted directory in place; the container's first process gets SIGHUP.
  expect((await ctl(["config", "update", "web-conf", "--from-literal", "app.conf=listen 7070"])).code).toBe(0);
  await h.explaining(() => eventually("boxed's SIGHUP", async () => ((await ctl(["logs", "boxed"])).stdout.includes("boxed-0 | hup listen 7070") ? true : undefined), 15_000));
  expect(sh(["docker", "ps", "-q", "--filter", "label=tessera.workload=boxed"]).out.trim()).toBe(id);
  expect((await ctl(["delete", "workload", "boxed"])).code).toBe(0);
  await eventually("the container's secret files removed", () => (sources.some((p) => existsSync(p)) ? undefined : true), 15_000);
});

/** Prints its config at the start and again at each SIGHUP (a config is no secret). */
const HUP = 'trap \'echo "hup $(cat "$TESSERA_CONFIGS_DIR/web-conf/app.conf") $(cat "$TESSERA_CONFIGS_DIR/page/port.conf")"\' HUP; echo "start $(cat "$TESSERA_CONFIGS_DIR/web-conf/app.conf") $(cat "$TESSERA_CONFIGS_DIR/page/port.conf")"; while :; do sleep 0.2; done';

test("onChange signal: a new config version is written in the running copy, which gets SIGHUP; no copy is replaced; a template config has the copy's port", async () => {
  // A template config: rendered with the copy's own port by its agent.
  expect((await ctl(["config", "create", "page", "--from-literal", "port.conf=port=${TESSERA_PORT_HTTP}"])).code).toBe(0);
  const manifest = { name: "hup", spec: { command: "/bin/sh", args: ["-c", HUP], ports: [{ name: "http" }], configs: [{ name: "web-conf" }, { name: "page", template: true }], onChange: "signal", stopGracePeriod: "1s" } };
  writeFileSync(join(h.dir, "hup.json"), JSON.stringify(manifest));
  expect((await ctl(["apply", "-f", join(h.dir, "hup.json")])).code).toBe(0);
  const output = (want: RegExp) => h.explaining(() => eventually(`hup prints ${want}`, async () => (await ctl(["logs", "hup"])).stdout.match(want)?.[1], 15_000));
  const port = await output(/^hup-0 \| start listen (?:8080|7070) port=(\d+)$/m);
  const copies = async () => (JSON.parse((await ctl(["get", "instances", "hup", "-o", "json"])).stdout) as { instances: Array<{ id: string }> }).instances.map((i) => i.id);
  const before = await copies();
  expect((await ctl(["config", "update", "web-conf", "--from-literal", "app.conf=listen 9090"])).code).toBe(0);
  expect(await output(/^hup-0 \| hup listen 9090 port=(\d+)$/m)).toBe(port);
  expect(await copies()).toEqual(before);
  expect((await ctl(["delete", "workload", "hup"])).code).toBe(0);
});

test("the cluster key rotated: every secret sealed again under a new key kept alone in secrets.key (0600), which the old key opens none of; after a restart a new copy reads the right value", async () => {
  const keyFile = join(h.dir, "control", "secrets.key");
  const oldKey = Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64");
  expect((await ctl(["secret", "rotate-key"])).stdout).toMatch(/^cluster key rotated: generation 1, [1-9]\d* secret versions? sealed again\n$/);
  expect(readFileSync(keyFile, "utf8")).toMatch(/^1:\S+\n$/);
  expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  const stored = new Database(join(h.dir, "control", "tessera.db"), { readonly: true });
  const rows = stored.query("SELECT name, payload FROM secret_versions WHERE kind = 'secret'").all() as Array<{ name: string; payload: string }>;
  stored.close();
  expect(rows.length).toBeGreaterThan(0);
  for (const { name, payload } of rows) {
    expect(generationOf(payload)).toBe(1);
    // Not even taken for the new generation does the old key open it.
    expect(() => new SecretSealer(new Map([[1, oldKey]])).open(name, payload)).toThrow(SecretSealMismatch);
  }
  control.proc.kill("SIGTERM");
  await control.proc.exited;
  ({ server: control, metricsAddress: http } = await h.startControl(address));
  const manifest = { name: "after-rotation", spec: { command: "/bin/sh", args: ["-c", READER], secrets: [{ name: "db" }], configs: [{ name: "web-conf" }], secretEnv: { TOKEN: { secret: "db", key: "token" } } } };
  writeFileSync(join(h.dir, "after-rotation.json"), JSON.stringify(manifest));
  expect((await ctl(["apply", "-f", join(h.dir, "after-rotation.json")])).code).toBe(0);
  const printed = await h.explaining(() => eventually("after-rotation prints its digests", async () => {
    const lines = (await ctl(["logs", "after-rotation"])).stdout.split("\n").map((l) => l.replace(/^after-rotation-0 \| /, ""));
    return lines.length >= 2 && lines[1] !== "" ? lines : undefined;
  }, 15_000));
  expect(printed.slice(0, 2)).toEqual([sha256(ROTATED), sha256(ROTATED)]);
  expect((await ctl(["delete", "workload", "after-rotation"])).code).toBe(0);
});

/** The output of reader's newest copy meant to run, once it has printed its 5 lines, when it is the only one and its generation is `generation` (or passes it). */
function outputOfNewest(generation: number | ((g: number) => boolean)): Promise<string[]> {
  const wanted = typeof generation === "number" ? (g: number) => g === generation : generation;
  return h.explaining(() =>
    eventually(`reader's copy of generation ${generation}`, async () => {
      const listed = JSON.parse((await ctl(["get", "instances", "reader", "-o", "json"])).stdout) as { instances: Array<{ id: string; generation: string; desiredState: string }> };
      const meant = listed.instances.filter((i) => i.desiredState === "DESIRED_STATE_RUN");
      const newest = meant.at(-1);
      if (meant.length !== 1 || !newest || !wanted(Number(newest.generation))) return undefined;
      const out = (await ctl(["logs", "reader", "--instance", newest.id])).stdout.split("\n").map((l) => l.replace(/^reader-0(\.\d+)? \| /, ""));
      return out.length >= 5 && out[4] !== "" ? out : undefined;
    }, 20_000),
  );
}

test("the leak scan: the values are in no file, log, answer, event or metric", async () => {
  const answers: string[] = [];
  for (const args of [["get", "secrets", "-o", "json"], ["events"], ["history", "reader"], ["get", "configs", "-o", "yaml"], ["get", "nodes", "-o", "json"]]) answers.push((await ctl(args)).stdout);
  const auth = { authorization: `Bearer ${admin()}` };
  for (const path of ["/v1/secrets", "/v1/configs", "/metrics"]) answers.push(await (await fetch(`http://${http}${path}`, { headers: auth })).text());
  answers.push(await followFor(`http://${http}/v1/events/stream?from=0`, auth, 1_000));
  // The page's own API, signed in as the admin: its SSE of the fleet and the events.
  const origin = `http://${http}`;
  const signIn = await fetch(`${origin}/api/session`, { method: "POST", body: JSON.stringify({ token: admin() }), headers: { origin, "content-type": "application/json" } });
  expect(signIn.status).toBe(200);
  const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
  const page = await followFor(`${origin}/api/events`, { cookie }, 1_000);
  expect(page).toContain("event: snapshot");
  answers.push(page);
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
