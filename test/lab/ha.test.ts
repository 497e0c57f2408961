/**
 * HA across hosts (#29): three control planes on three hosts sharing PostgreSQL on a fourth, an
 * agent on a fifth told of all three. The leader is cut off from the database only, the agent
 * still reaching it: it steps down within its lease, a standby leads, the agent follows, and
 * nothing restarts; healed, the old leader follows the new one.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, leadingServes, type Server } from "../e2e/harness.js";
import { type PostgresServer, postgresSuite } from "../e2e/postgres-server.js";
import { copiesOn, type Host, Lab, labSuite } from "./lab.js";

setDefaultTimeout(90_000);

const TTL_MS = 3_000;
const suite = labSuite("HA across hosts in network namespaces");
const pg = postgresSuite("HA across hosts in network namespaces");
let lab: Lab;
let db: PostgresServer | undefined;
let planes: Host[];
let node: Host;
const servers = new Map<string, Server>();
let agent: Server;

/** ctl on the agent's host, through one control plane. */
async function ctl(through: Host, ...args: string[]): Promise<string> {
  const res = await lab.ctl(node, through, args);
  if (res.code !== 0) throw new Error(`ctl ${args.join(" ")} via ${through.name} exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}

async function roles(through: Host): Promise<Record<string, string>> {
  const list = (JSON.parse(await ctl(through, "get", "control-planes", "-o", "json")) as { controlPlanes: Array<{ address: string; role: string }> }).controlPlanes;
  return Object.fromEntries(list.map((p) => [planes.find((h) => p.address.startsWith(`${h.address}:`))?.name ?? p.address, p.role.replace("CONTROL_PLANE_ROLE_", "")]));
}

/** The copies of a workload on the agent's host: instance id → pid. */
const copies = (workload: string) => copiesOn(node, workload);

async function runningCount(through: Host, workload: string): Promise<number> {
  const list = (JSON.parse(await ctl(through, "get", "instances", workload, "-o", "json")) as { instances?: Array<{ observedState: string }> }).instances ?? [];
  return list.filter((i) => i.observedState === "INSTANCE_STATE_RUNNING").length;
}

/** The control plane leading now, as the roll says. */
async function currentLeader(): Promise<Host> {
  return eventually("a leader in the roll", async () => {
    for (const p of planes) {
      const r = await roles(p).catch(() => undefined);
      const name = r && Object.keys(r).find((k) => r[k] === "LEADER");
      if (name) return lab.host(name);
    }
    return undefined;
  }, 20_000, 200);
}

describe.skipIf(suite.skip || pg.skip)("three control planes on three hosts, PostgreSQL on a fourth", () => {
  beforeAll(async () => {
    lab = new Lab(["db", "cp1", "cp2", "cp3", "a"]);
    planes = ["cp1", "cp2", "cp3"].map((n) => lab.host(n));
    node = lab.host("a");
    await lab.h.explaining(async () => {
      db = await pg.start({ ns: lab.host("db").ns, address: lab.host("db").address });
      for (const [i, cp] of planes.entries()) {
        // The same CA secret on every control plane's host, copied there by the operator.
        writeFileSync(join(cp.dir, "ca-secret"), "lab HA across hosts CA secret", { mode: 0o600 });
        const flags = ["--store", db.url, "--ca-secret-file", join(cp.dir, "ca-secret"), "--lease-ttl", `${TTL_MS}ms`, "--lease-renew", "1s"];
        const started = await lab.startControl(cp, flags);
        servers.set(cp.name, started.server);
        if (i === 0) await started.server.waitForLog(leadingServes, 20_000);
        // A control plane joining the cluster gets no token files: the operator copies the first's.
        else for (const token of ["admin-token", "join-token"]) lab.copy(planes[0]!, token, cp);
      }
      agent = lab.startAgent(node, planes[0]!, ["--heartbeat", "250ms"], planes.slice(1));
      await eventually("three control planes in the roll, cp1 leading", async () => {
        const r = await roles(planes[0]!);
        return JSON.stringify(r) === JSON.stringify({ cp1: "LEADER", cp2: "STANDBY", cp3: "STANDBY" }) ? r : undefined;
      }, 20_000, 200);
      const manifest = join(node.dir, "steady.json");
      writeFileSync(manifest, JSON.stringify({ name: "steady", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2 } }));
      await ctl(planes[0]!, "apply", "-f", manifest, "--wait", "--timeout", "30");
    });
  });
  afterAll(async () => {
    try {
      db?.remove();
    } finally {
      await lab?.stop();
    }
  });

  test("the leader cut off from the database only steps down within its lease; a standby leads, the agent follows, nothing restarts; healed, the old leader follows", async () => {
    const [cp1] = planes as [Host, Host, Host];
    const before = copies("steady");
    expect(before.size).toBe(2);
    lab.cutBetween(cp1, lab.host("db"));
    const cutAt = Date.now();
    await lab.h.explaining(() => servers.get("cp1")!.waitForLog((l) => String(l.msg).startsWith("stepping down"), TTL_MS + 5_000));
    const fencedAfter = Date.now() - cutAt;
    const leader = await lab.h.explaining(() =>
      eventually("a standby leading", () => planes.slice(1).find((p) => servers.get(p.name)!.logs.some(leadingServes)), TTL_MS + 10_000, 100),
    );
    console.log(`leader fenced ${fencedAfter} ms after its cut from the database; ${leader.name} leads ${Date.now() - cutAt} ms after`);

    // The agent moved to the new leader: an apply there runs, and what ran before still runs.
    const manifest = join(node.dir, "after.json");
    writeFileSync(manifest, JSON.stringify({ name: "after", spec: { command: "/bin/sleep", args: ["3600"] } }));
    await lab.h.explaining(() => ctl(leader, "apply", "-f", manifest, "--wait", "--timeout", "30"));
    expect(await runningCount(leader, "after")).toBe(1);
    expect(copies("steady")).toEqual(before);
    expect(await runningCount(leader, "steady")).toBe(2);

    lab.healBetween(cp1, lab.host("db"));
    await lab.h.explaining(() =>
      eventually("cp1 following the new leader", async () => {
        const r = await roles(leader);
        return r.cp1 === "STANDBY" && r[leader.name] === "LEADER" ? r : undefined;
      }, 20_000, 200),
    );
    expect(copies("steady")).toEqual(before);
  });

  test("the leader cut off from everything: a standby leads, the agent follows, nothing restarts; every apply acknowledged meanwhile is in the final state", async () => {
    const leader = await currentLeader();
    const standbys = planes.filter((p) => p !== leader);
    const before = copies("steady");
    lab.cut(leader);
    const cutAt = Date.now();
    // A client given every control plane (the cut one last) applies all along: what it is told
    // was applied must be there at the end.
    const acked: string[] = [];
    for (let n = 0; Date.now() - cutAt < 4 * TTL_MS; n++) {
      const manifest = join(node.dir, `w${n}.json`);
      writeFileSync(manifest, JSON.stringify({ name: `w${n}`, spec: { command: "/bin/sleep", args: ["3600"] } }));
      const res = await lab.ctl(node, standbys[0]!, ["apply", "-f", manifest], [standbys[1]!, leader]);
      if (res.code === 0) acked.push(`w${n}`);
      await Bun.sleep(200);
    }
    const next = await lab.h.explaining(() => eventually("a standby leading", async () => {
      const r = await roles(standbys[0]!);
      return standbys.find((p) => r[p.name] === "LEADER");
    }, 20_000, 200));
    console.log(`${leader.name} cut off from everything; ${next.name} leads; ${acked.length} applies acknowledged meanwhile`);
    expect(acked.length).toBeGreaterThan(0);
    await lab.h.explaining(() => eventually("the agent's copies of w0 Running under the new leader", async () => ((await runningCount(next, acked[0]!)) === 1 ? true : undefined), 30_000, 200));
    expect(copies("steady")).toEqual(before);

    lab.heal(leader);
    await lab.h.explaining(() =>
      eventually(`${leader.name} standing by`, async () => {
        const r = await roles(next);
        return r[leader.name] === "STANDBY" && r[next.name] === "LEADER" ? r : undefined;
      }, 20_000, 200),
    );
    const workloads = (JSON.parse(await ctl(next, "get", "workloads", "-o", "json")) as { workloads?: Array<{ name: string }> }).workloads ?? [];
    expect(acked.filter((w) => !workloads.some((x) => x.name === w))).toEqual([]);
    expect(copies("steady")).toEqual(before);
  });

  test("no two leaders' commands reached the agent in one epoch (its log of each term it was commanded from)", () => {
    // After both tests: three leaders at least (cp1, then two takeovers), each in an epoch of its own.
    const terms = agent.logs.filter((l) => l.msg === "commands from a leader").map((l) => ({ epoch: Number(l.epoch), leader: String(l.leader) }));
    const leadersByEpoch = new Map<number, Set<string>>();
    for (const t of terms) leadersByEpoch.set(t.epoch, (leadersByEpoch.get(t.epoch) ?? new Set()).add(t.leader));
    console.log(`the agent was commanded in epochs ${[...leadersByEpoch.keys()].join(", ")}`);
    expect(leadersByEpoch.size).toBeGreaterThanOrEqual(2);
    for (const [epoch, leaders] of leadersByEpoch) expect({ epoch, leaders: [...leaders] }).toEqual({ epoch, leaders: [expect.stringMatching(/.+/)] });
  });
});
