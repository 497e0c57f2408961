/**
 * What `tessera control` tells the operator on stdout when it starts: where the CA, the join
 * token and the admin token are, and the web page's address with its sign-in. On SQLite and on
 * PostgreSQL (where the first control plane writes its token files only once it leads), the
 * banner names the files it wrote, never "no token file here" for a file that then appears.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BINARY, eventually, Harness, requireBinary } from "./harness.js";
import { type PostgresServer, postgresSuite } from "./postgres-server.js";

setDefaultTimeout(60_000);

const h = new Harness();
const pg = postgresSuite("the first control plane's banner on PostgreSQL");
let server: PostgresServer | undefined;
afterAll(async () => {
  await h.stop();
  server?.remove();
});

/** Starts `tessera control` with stdout read; resolves with its first two lines (CA and tokens; web). */
async function banner(dataDir: string, env: Record<string, string> = {}): Promise<string[]> {
  const proc = Bun.spawn([BINARY, "control", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--metrics-listen", "127.0.0.1:0"], {
    cwd: h.dir,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "ignore",
  });
  let out = "";
  void (async () => {
    for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
  })();
  try {
    return await eventually("the banner", () => (out.split("\n").length > 2 ? out.split("\n").slice(0, 2) : undefined), 30_000, 50);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

function expectNamesItsFiles(lines: string[], dir: string): void {
  const [security, web] = lines;
  expect(security).toMatch(/^CA sha256:[0-9a-f]{64}; /);
  expect(security).toContain(`join token in ${join(dir, "join-token")}, admin token in ${join(dir, "admin-token")}`);
  expect(security).not.toContain("no join token file");
  expect(web).toContain(`?token=$(cat ${join(dir, "admin-token")})`);
  expect(web).not.toContain("ADMIN_TOKEN");
  for (const kind of ["join", "admin"]) expect(existsSync(join(dir, `${kind}-token`))).toBe(true);
}

test("on SQLite, the first start names the token files it wrote", async () => {
  requireBinary();
  const dir = join(h.dir, "sqlite");
  expectNamesItsFiles(await banner(dir), dir);
});

test.skipIf(pg.skip)("on PostgreSQL, the first control plane names the token files it writes once it leads", async () => {
  server = await pg.start();
  const dir = join(h.dir, "pg-first");
  expectNamesItsFiles(await banner(dir, { TESSERA_STORE: server.url, TESSERA_CA_SECRET: "banner test CA secret" }), dir);
});
