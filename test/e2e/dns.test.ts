/**
 * The agent's DNS through dist/tessera, asked by a resolver no one here wrote (`dig`, Debian's
 * dnsutils): A and SRV answers list the Ready copies of a workload with a dynamic port, an
 * unknown name is NXDOMAIN, and a copy whose readiness check starts failing leaves the answers.
 * A held canary and the copy it replaces, on two hosts: two SRV targets, each with its own
 * host's address; the replica's name answers the canary alone.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { needTools } from "../system-packages/need.js";
import { E2E_TIMEOUT_MS, eventually, freeRange, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const resolver = needTools("the agent's DNS asked with dig", ["dig"]);
const h = new Harness();
let control = "";
let dnsPort = 0;
const flags = join(h.dir, "unready");
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: control });

/** Asks the agent with dig: the status and the answer section's records as "NAME TYPE DATA". */
async function dig(name: string, type: string): Promise<{ status: string; answers: string[]; additionals: string[] }> {
  const proc = Bun.spawn(["dig", "@127.0.0.1", "-p", String(dnsPort), "+tries=1", "+time=2", "+noall", "+comments", "+answer", "+additional", name, type], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(`dig ${name} ${type} exited with ${code}: ${out}`);
  const status = /status: (\w+)/.exec(out)?.[1] ?? "none";
  const records = (section: string) => {
    const body = out.split(`;; ${section} SECTION:\n`)[1]?.split("\n\n")[0] ?? "";
    return body
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith(";"))
      .map((l) => l.split(/\s+/))
      .map(([owner, , , rtype, ...data]) => `${owner} ${rtype} ${data.join(" ")}`)
      .sort();
  };
  return { status, answers: records("ANSWER"), additionals: records("ADDITIONAL") };
}

interface JsonInstance {
  id: string;
  name: string;
  address?: string;
  ready?: boolean;
  ports?: Array<{ name: string; hostPort: number }>;
}

async function instances(workload = "web"): Promise<JsonInstance[]> {
  const res = await ctl("get", "instances", workload, "-o", "json");
  return (JSON.parse(res.stdout) as { instances?: JsonInstance[] }).instances ?? [];
}

beforeAll(() =>
  h.explaining(async () => {
    if (resolver.skip) return;
    resolver.require();
    requireBinary();
    const [range, cp] = await Promise.all([freeRange(4), h.startControl()]);
    control = cp.address;
    const agent = h.start(["agent", "--control", control, "--name", "node-a", "--data-dir", join(h.dir, "agent"), "--advertise-address", "127.0.0.1", "--port-range", `${range.from}-${range.to}`, "--dns-listen", "127.0.0.1:0"]);
    const line = await agent.waitForLog((l) => l.msg === "dns listening");
    dnsPort = Number(String(line.address).split(":")[1]);
    mkdirSync(flags);
    const manifest = join(h.dir, "web.json");
    // Each copy is Ready while no file named after its port exists: the test takes one copy out.
    const check = { name: "flag", exec: { command: "/bin/sh", args: ["-c", `test ! -e ${flags}/$TESSERA_PORT_HTTP`] }, interval: "0.2s", failureThreshold: 1 };
    writeFileSync(manifest, JSON.stringify({ name: "web", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2, ports: [{ name: "http" }], checks: [check] } }));
    const res = await ctl("apply", "-f", manifest, "--wait", "--timeout", "25");
    expect(res.stderr).toBe("");
  }),
);
afterAll(() => h.stop());

test.skipIf(resolver.skip)("A lists the Ready copies' address, SRV their ports with the copies' names as targets; unknown names are NXDOMAIN, others REFUSED", async () => {
  const copies = await instances();
  expect(copies.map((i) => [i.name, i.ready])).toEqual([
    ["web-0", true],
    ["web-1", true],
  ]);
  const port = (name: string) => copies.find((i) => i.name === name)!.ports![0]!.hostPort;
  // Targets name the copy: its instance id, the dot a dash.
  const target = (name: string) => `${copies.find((i) => i.name === name)!.id.replace(".", "-")}.web.tessera.`;
  const a = await eventually("web.tessera resolves", async () => {
    const r = await dig("web.tessera", "A");
    return r.answers.length > 0 ? r : undefined;
  });
  expect(a).toEqual({ status: "NOERROR", answers: ["web.tessera. A 127.0.0.1"], additionals: [] });
  expect(await dig("_http._tcp.web.tessera", "SRV")).toEqual({
    status: "NOERROR",
    answers: [`_http._tcp.web.tessera. SRV 0 1 ${port("web-0")} ${target("web-0")}`, `_http._tcp.web.tessera. SRV 0 1 ${port("web-1")} ${target("web-1")}`],
    additionals: [`${target("web-0")} A 127.0.0.1`, `${target("web-1")} A 127.0.0.1`],
  });
  expect((await dig("web-1.web.tessera", "A")).answers).toEqual(["web-1.web.tessera. A 127.0.0.1"]);
  expect((await dig(target("web-1"), "A")).answers).toEqual([`${target("web-1")} A 127.0.0.1`]);
  expect((await dig("nothing.tessera", "A")).status).toBe("NXDOMAIN");
  expect((await dig("_ftp._tcp.web.tessera", "SRV")).status).toBe("NXDOMAIN");
  expect((await dig("example.com", "A")).status).toBe("REFUSED");
});

test.skipIf(resolver.skip)("a copy whose readiness check fails leaves the SRV answer and its own name; the other stays; with none Ready, A has no address", async () => {
  const copies = await instances();
  const leaving = copies.find((i) => i.name === "web-1")!.ports![0]!.hostPort;
  const staying = copies.find((i) => i.name === "web-0")!.ports![0]!.hostPort;
  const stayingTarget = `${copies.find((i) => i.name === "web-0")!.id.replace(".", "-")}.web.tessera.`;
  writeFileSync(join(flags, String(leaving)), "");
  const srv = await eventually(
    "web-1 gone from the SRV answer",
    async () => {
      const r = await dig("_http._tcp.web.tessera", "SRV");
      return r.answers.length === 1 ? r : undefined;
    },
    10_000,
  );
  expect(srv.answers).toEqual([`_http._tcp.web.tessera. SRV 0 1 ${staying} ${stayingTarget}`]);
  expect(await dig("web-1.web.tessera", "A")).toEqual({ status: "NOERROR", answers: [], additionals: [] });
  expect((await dig("web.tessera", "A")).answers).toEqual(["web.tessera. A 127.0.0.1"]);
  // The last Ready copy on the address going takes the address out of the A answer.
  writeFileSync(join(flags, String(staying)), "");
  const none = await eventually("web.tessera without addresses", async () => {
    const r = await dig("web.tessera", "A");
    return r.answers.length === 0 ? r : undefined;
  });
  expect(none.status).toBe("NOERROR");
});

test.skipIf(resolver.skip)("a held canary and the copy it replaces, on two hosts: each its own SRV target with its own host's address; the replica's name, the canary's", async () => {
  // A second host (127.0.0.2 is loopback too); its agent answers no DNS (node-a's does).
  const [range, fixed] = await Promise.all([freeRange(4), freeRange(1)]);
  h.start(["agent", "--control", control, "--name", "node-b", "--data-dir", join(h.dir, "agent-b"), "--advertise-address", "127.0.0.2", "--port-range", `${range.from}-${range.to}`, "--dns-listen", ""]);
  await eventually("node-b Ready", async () => ((await ctl("get", "nodes")).stdout.match(/^node-b\s+Ready/m) ? true : undefined), 15_000);
  // A static port: the canary cannot share the old copy's host.
  const p6 = (seconds: string) => ({ name: "p6", spec: { command: "/bin/sleep", args: [seconds], replicas: 1, ports: [{ name: "http", static: fixed.from }], update: { canary: 1 } } });
  writeFileSync(join(h.dir, "p6.json"), JSON.stringify(p6("3600")));
  expect((await ctl("apply", "-f", "p6.json", "--wait", "--timeout", "20")).code).toBe(0);
  writeFileSync(join(h.dir, "p6.json"), JSON.stringify(p6("3601")));
  expect((await ctl("apply", "-f", "p6.json")).code).toBe(0);
  const [old, canary] = await eventually("the canary Ready beside the old copy", async () => {
    const copies = (await instances("p6")).filter((i) => i.ready);
    return copies.length === 2 ? copies.sort((a, b) => Number(a.id.split(".")[1]) - Number(b.id.split(".")[1])) : undefined;
  }, 20_000);
  expect(new Set([old!.address, canary!.address])).toEqual(new Set(["127.0.0.1", "127.0.0.2"]));
  const target = (i: JsonInstance) => `${i.id.replace(".", "-")}.p6.tessera.`;
  const srv = await eventually("both copies in the SRV answer", async () => {
    const r = await dig("_http._tcp.p6.tessera", "SRV");
    return r.answers.length === 2 ? r : undefined;
  });
  expect(srv).toEqual({
    status: "NOERROR",
    answers: [`_http._tcp.p6.tessera. SRV 0 1 ${fixed.from} ${target(old!)}`, `_http._tcp.p6.tessera. SRV 0 1 ${fixed.from} ${target(canary!)}`].sort(),
    additionals: [`${target(old!)} A ${old!.address}`, `${target(canary!)} A ${canary!.address}`].sort(),
  });
  for (const copy of [old!, canary!]) expect((await dig(target(copy), "A")).answers).toEqual([`${target(copy)} A ${copy.address}`]);
  expect((await dig("p6-0.p6.tessera", "A")).answers).toEqual([`p6-0.p6.tessera. A ${canary!.address}`]);
});
