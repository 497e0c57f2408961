/**
 * A copy's secrets and configs as files (agent/secret-files.ts): owner-only, read-only files
 * under a directory of the agent's own on the tmpfs, the env resolved, all removed at the end.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretFiles } from "../../src/agent/secret-files.js";
import type { Endpoint } from "../../src/core/views/endpoints.js";
import type { DeliveredSet } from "../../src/gen/tessera/v1/agent_gateway.js";
import { spec } from "../core/fixtures.js";

const tmpfs = mkdtempSync(join(tmpdir(), "tessera-shm-"));
afterAll(() => rmSync(tmpfs, { recursive: true, force: true }));

const delivered: DeliveredSet[] = [
  { kind: "secret", name: "db", version: 2, data: { password: Buffer.from("pw"), user: Buffer.from("app") } },
  { kind: "config", name: "app", version: 1, data: { "app.conf": Buffer.from("a=1") } },
];
const uses = spec({ secrets: [{ name: "db", mountPath: "" }], configs: [{ name: "app", mountPath: "" }], secretEnv: { PASSWORD: { secret: "db", key: "password" } } });

test("files 0400 in 0700 directories, the env resolved, each set's directory to bind at its mount path; removed when the copy ends", () => {
  const files = new SecretFiles("/var/lib/tessera-agent", tmpfs);
  const written = files.write("web-0.1", { ...uses, configs: [{ name: "app", mountPath: "/etc/app" }] }, delivered);
  const env = { ...written.env, TESSERA_SECRETS_DIR: written.dirs!.secrets, TESSERA_CONFIGS_DIR: written.dirs!.configs };
  expect(written.env).toEqual({ PASSWORD: "pw" });
  expect(written.binds).toEqual([
    { source: join(env.TESSERA_SECRETS_DIR, "db"), mountPath: "" },
    { source: join(env.TESSERA_CONFIGS_DIR, "app"), mountPath: "/etc/app" },
  ]);
  expect(env.TESSERA_SECRETS_DIR!.startsWith(tmpfs)).toBe(true);
  const password = join(env.TESSERA_SECRETS_DIR!, "db", "password");
  expect(readFileSync(password, "utf8")).toBe("pw");
  expect(statSync(password).mode & 0o777).toBe(0o400);
  expect(statSync(join(env.TESSERA_SECRETS_DIR!, "db")).mode & 0o777).toBe(0o700);
  expect(readFileSync(join(env.TESSERA_CONFIGS_DIR!, "app", "app.conf"), "utf8")).toBe("a=1");
  files.remove("web-0.1");
  expect(existsSync(join(env.TESSERA_SECRETS_DIR!, ".."))).toBe(false);
});

test("two agents on one host write apart; what was not delivered is refused naming it", () => {
  const a = new SecretFiles("/data/a", tmpfs).write("web-0.1", uses, delivered).dirs?.secrets;
  const b = new SecretFiles("/data/b", tmpfs).write("web-0.1", uses, delivered).dirs?.secrets;
  expect(a).toBeDefined();
  expect(a).not.toBe(b);
  expect(() => new SecretFiles("/data/c", tmpfs).write("web-0.2", uses, delivered.slice(1))).toThrow("secret db key password was not delivered");
  expect(() => new SecretFiles("/data/c", tmpfs).write("web-0.2", spec({ configs: [{ name: "other", mountPath: "" }] }), delivered)).toThrow("config other was not delivered");
});

test("a refresh writes new versions over the files (removing keys gone), and nothing for versions held already", () => {
  const files = new SecretFiles("/data/r", tmpfs);
  const { dirs } = files.write("web-0.3", uses, delivered);
  const next: DeliveredSet[] = [{ kind: "secret", name: "db", version: 3, data: { password: Buffer.from("pw3") } }, delivered[1]!];
  expect(files.refresh("web-0.3", next)).toBe(true);
  expect(readFileSync(join(dirs!.secrets, "db", "password"), "utf8")).toBe("pw3");
  expect(statSync(join(dirs!.secrets, "db", "password")).mode & 0o777).toBe(0o400);
  expect(existsSync(join(dirs!.secrets, "db", "user"))).toBe(false);
  expect(readFileSync(join(dirs!.configs, "app", "app.conf"), "utf8")).toBe("a=1");
  // Sent again (a hello): nothing to write, no signal.
  expect(files.refresh("web-0.3", next)).toBe(false);
  files.remove("web-0.3");
  expect(files.refresh("web-0.3", next)).toBe(false);
});

test("a template config is rendered with the copy's variables, at the start and at a refresh; other files are written as they are", () => {
  const files = new SecretFiles("/data/t", tmpfs);
  const templated = spec({ secrets: [{ name: "db", mountPath: "" }], configs: [{ name: "app", mountPath: "", template: true }] });
  const text = (s: string): DeliveredSet[] => [{ kind: "secret", name: "db", version: 1, data: { password: Buffer.from("${TESSERA_PORT_HTTP}") } }, { kind: "config", name: "app", version: s === "v1" ? 1 : 2, data: { "app.conf": Buffer.from(`${s} listen \${TESSERA_PORT_HTTP}; $\${TESSERA_PORT_HTTP} \${TESSERA_NOT_MINE}`) } }];
  const { dirs } = files.write("web-0.4", templated, text("v1"), { vars: { TESSERA_PORT_HTTP: "20001" } });
  const conf = join(dirs!.configs, "app", "app.conf");
  expect(readFileSync(conf, "utf8")).toBe("v1 listen 20001; ${TESSERA_PORT_HTTP} ${TESSERA_NOT_MINE}");
  expect(readFileSync(join(dirs!.secrets, "db", "password"), "utf8")).toBe("${TESSERA_PORT_HTTP}");
  expect(files.refresh("web-0.4", text("v2"))).toBe(true);
  expect(readFileSync(conf, "utf8")).toBe("v2 listen 20001; ${TESSERA_PORT_HTTP} ${TESSERA_NOT_MINE}");
  files.remove("web-0.4");
});

test("a template naming another workload's endpoints is rendered at the start, and again when they change, returning the copy's on_change", () => {
  const files = new SecretFiles("/data/e", tmpfs);
  const db = (hostPort: number) => ({ workload: "db", instance: `db-0.${hostPort}`, name: "db-0", node: "n1", address: "10.0.0.1", portName: "pg", hostPort, protocol: "tcp" as const, ready: true });
  let held = [db(20001)];
  const endpointsOf = (w: string) => (w === "db" ? held : []);
  const app: DeliveredSet[] = [{ kind: "config", name: "app", version: 1, data: { upstreams: Buffer.from('{{ endpoints "db" }}\n') } }];
  const { dirs } = files.write("web-0.5", spec({ configs: [{ name: "app", mountPath: "", template: true }], onChange: 2 }), app, { endpointsOf });
  const upstreams = join(dirs!.configs, "app", "upstreams");
  expect(readFileSync(upstreams, "utf8")).toBe("10.0.0.1:20001\n");
  // The same endpoints sent again (a hello): nothing written, no signal.
  expect(files.rerender("web-0.5", endpointsOf)).toBeUndefined();
  held = [db(20001), { ...db(20002), name: "db-1" }];
  expect(files.rerender("web-0.5", endpointsOf)).toBe("signal");
  expect(readFileSync(upstreams, "utf8")).toBe("10.0.0.1:20001\n10.0.0.1:20002\n");
  expect(statSync(upstreams).mode & 0o777).toBe(0o400);
  // A new version of the config is rendered with the endpoints held now.
  expect(files.refresh("web-0.5", [{ ...app[0]!, version: 2, data: { upstreams: Buffer.from('{{ endpoints "db" "pg" }};') } }], endpointsOf)).toBe(true);
  expect(readFileSync(upstreams, "utf8")).toBe("10.0.0.1:20001\n10.0.0.1:20002;");
  files.remove("web-0.5");
  expect(files.rerender("web-0.5", endpointsOf)).toBeUndefined();
});

test("a bad endpoints reference fails the copy's start naming the config, its key and the reference", () => {
  const files = new SecretFiles("/data/b", tmpfs);
  const bad: DeliveredSet[] = [{ kind: "config", name: "app", version: 1, data: { "app.conf": Buffer.from("{{ endpoints db }}") } }];
  expect(() => files.write("web-0.6", spec({ configs: [{ name: "app", mountPath: "", template: true }] }), bad)).toThrow('config app key app.conf: {{ endpoints db }}: expected {{ endpoints "WORKLOAD" }}');
  files.remove("web-0.6");
});

test.skipIf(process.getuid?.() !== 0)("a container's sets are its user's (directory and files), through a refresh and a rerender; the rest stays the agent's", () => {
  const files = new SecretFiles("/data/o", tmpfs);
  let held: Endpoint[] = [];
  const endpointsOf = () => held;
  const sets: DeliveredSet[] = [delivered[0]!, { kind: "config", name: "app", version: 1, data: { list: Buffer.from('{{ endpoints "db" }}') } }];
  const boxed = spec({ image: "x", secrets: [{ name: "db", mountPath: "/run/db" }], configs: [{ name: "app", mountPath: "/etc/app", template: true }], onChange: 3 });
  const { binds, dirs } = files.write("box-0.1", boxed, sets, { endpointsOf, owner: { uid: 1000, gid: 2000 } });
  const owned = (path: string) => [statSync(path).uid, statSync(path).gid];
  for (const { source } of binds) {
    expect(owned(source)).toEqual([1000, 2000]);
    for (const key of readdirSync(source)) expect(owned(join(source, key))).toEqual([1000, 2000]);
  }
  expect(statSync(dirs!.secrets).uid).toBe(0);
  expect(files.refresh("box-0.1", [{ ...delivered[0]!, version: 3 }], endpointsOf)).toBe(true);
  expect(owned(join(dirs!.secrets, "db", "password"))).toEqual([1000, 2000]);
  held = [{ workload: "db", instance: "db-0.1", name: "db-0", node: "n", address: "10.0.0.1", portName: "pg", hostPort: 1, protocol: "tcp", ready: true }];
  expect(files.rerender("box-0.1", endpointsOf)).toBe("none");
  expect(owned(join(dirs!.configs, "app", "list"))).toEqual([1000, 2000]);
  files.remove("box-0.1");
});
