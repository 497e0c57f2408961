/**
 * A private PostgreSQL for tests: initdb in a temporary directory, started as the `postgres`
 * user (the server refuses root) on a free loopback port, trust authentication, stopped with
 * `-m immediate` and its directory removed. Without PostgreSQL the suites skip, visibly; under
 * TESSERA_CI=1 that is a failure (their setup calls `require()`), like docker-engine.ts.
 */
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { judgeTools, needTools, type ToolNeed } from "../system-packages/need.js";

const BIN = "/usr/lib/postgresql/15/bin";
/** Ports tried before giving up on binding one. */
const BIND_ATTEMPTS = 5;

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/DB for a database created for the caller. */
  url: string;
  port: number;
  /** Creates another empty database on the same server and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** The process id of its postmaster, the parent of the backends serving connections. */
  postmasterPid(): number;
  /** Stops the server (immediate: like a crash; the data dir survives until `remove`). */
  stop(): void;
  /** Starts it again on the same port and data. */
  start(): void;
  /** Stops it and removes its directory. */
  remove(): void;
}

/** The `postgres` user the server runs as, which Debian's package makes. */
const postgresUser = () => (Bun.spawnSync(["id", "postgres"]).exitCode === 0 ? undefined : "there is no postgres user to run the server as (Debian package postgresql makes it)");

/** Whether PostgreSQL can be started here (for the benchmarks, which do not skip). */
export function postgresAvailable(): boolean {
  return judgeTools(["postgresql"], postgresUser, { ci: true }).available;
}

export interface PostgresSuite extends ToolNeed {
  /** require(), then a private server (startPostgres), on a lab host if given. */
  start(host?: { ns: string; address: string }): Promise<PostgresServer>;
}

/** A suite of PostgreSQL tests: they skip, visibly, without PostgreSQL, except under TESSERA_CI=1. */
export function postgresSuite(what: string): PostgresSuite {
  const need = needTools(what, ["postgresql"], postgresUser);
  return {
    ...need,
    start: (host) => {
      need.require();
      return startPostgres(host);
    },
  };
}

/** Where this machine's ephemeral ports start (outgoing connections take ports from there up); Linux's default otherwise. */
function ephemeralFrom(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}
/** Ports from here up need no privilege to listen on. */
const UNPRIVILEGED_FROM = 1_024;

/** Whether `port` can be listened on now (0: any port), and which it was. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(undefined));
    s.listen(port, "127.0.0.1", () => {
      const bound = (s.address() as { port: number }).port;
      s.close(() => resolve(bound));
    });
  });
}

/**
 * A port below the ephemeral range, where no outgoing connection can take it before the server
 * binds it (a machine running thousands of connections may have no ephemeral port left), or
 * else any free one.
 */
async function freePort(): Promise<number> {
  const below = ephemeralFrom();
  for (let i = 0; i < 20 && below > UNPRIVILEGED_FROM; i++) {
    const port = await tryListen(UNPRIVILEGED_FROM + Math.floor(Math.random() * (below - UNPRIVILEGED_FROM)));
    if (port !== undefined) return port;
  }
  const any = await tryListen(0);
  if (any === undefined) throw new Error("no free port on 127.0.0.1 for PostgreSQL");
  return any;
}

/** Runs a command as the postgres user (in a network namespace, given one); throws with its output when it fails. */
function asPostgres(cmd: string, ns?: string): void {
  const r = Bun.spawnSync([...(ns ? ["ip", "netns", "exec", ns] : []), "su", "postgres", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stdout.toString()}${r.stderr.toString()}`);
}

/**
 * Starts a private server with one database `tessera`. ~1 s. Given a host (a network namespace
 * and its address, see test/lab), it runs there on port 5432 of that address, and databases are
 * created over its Unix socket, which the filesystem shares across namespaces.
 */
export async function startPostgres(host?: { ns: string; address: string }): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-pg-"));
  chmodSync(dir, 0o755);
  Bun.spawnSync(["chown", "postgres", dir]);
  const data = join(dir, "data");
  let port = host ? 5432 : await freePort();
  const address = host?.address ?? "127.0.0.1";
  asPostgres(`${BIN}/initdb -A trust -U postgres -D ${data} >/dev/null`);
  // On a lab host, the other hosts connect over its network: trust them too (the lab is private).
  if (host) appendFileSync(join(data, "pg_hba.conf"), "host all all 0.0.0.0/0 trust\n");
  const start = () => asPostgres(`${BIN}/pg_ctl -D ${data} -o '-p ${port} -k ${dir} -c listen_addresses=${address} -c fsync=off' -l ${dir}/log -w start >/dev/null`, host?.ns);
  const stop = () => asPostgres(`${BIN}/pg_ctl -D ${data} -m immediate -w stop >/dev/null`, host?.ns);
  // A free port may be taken before the server binds it (by another process's outgoing
  // connection, on a machine running thousands): another one then.
  for (let attempt = 1; ; attempt++) {
    try {
      start();
      break;
    } catch (err) {
      if (host || attempt === BIND_ATTEMPTS || !readFileSync(join(dir, "log"), "utf8").includes("Address already in use")) throw err;
      port = await freePort();
    }
  }
  const urlOf = (db: string) => `postgres://postgres@${address}:${port}/${db}`;
  const createDatabase = async (name: string) => {
    if (host) {
      asPostgres(`${BIN}/psql -h ${dir} -p ${port} -U postgres -d postgres -qc 'CREATE DATABASE "${name}"'`);
      return urlOf(name);
    }
    const admin = new Bun.SQL(urlOf("postgres"));
    try {
      await admin.unsafe(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.close();
    }
    return urlOf(name);
  };
  const url = await createDatabase("tessera");
  let running = true;
  return {
    url,
    port,
    createDatabase,
    postmasterPid: () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]),
    stop() {
      if (running) stop();
      running = false;
    },
    start() {
      if (!running) start();
      running = true;
    },
    remove() {
      if (running) stop();
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
