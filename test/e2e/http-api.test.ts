/**
 * The HTTP/JSON API and the event stream through dist/tessera (issue 34): the README's curl
 * examples, run as written (the address and data dir swapped for this test's), a client that a
 * standard generator (openapi-typescript-codegen) writes from the served OpenAPI document, and
 * `tessera ctl events` printing, filtering and resuming the event log.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { needTools } from "../system-packages/need.js";
import { E2E_TIMEOUT_MS, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

/** The sh block of the README's "HTTP/JSON API and the event stream" section. */
function readmeExamples(): string {
  const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## HTTP/JSON API and the event stream"));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error("README: no sh block in the HTTP/JSON API section");
  return block[1]!;
}

describe("HTTP/JSON API through the binary", () => {
  const h = new Harness();
  let address = "";
  let http = "";
  const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

  beforeAll(async () => {
    requireBinary();
    ({ address, metricsAddress: http } = await h.startControl());
  });
  afterAll(() => h.stop());

  const curl = needTools("the README's curl examples", ["curl"]);
  test.skipIf(curl.skip)("the README's curl examples run as written", async () => {
    curl.require();
    const script = readmeExamples().replaceAll("http://127.0.0.1:7701", `http://${http}`).replaceAll("~/.tessera", join(h.dir, "control"));
    const proc = Bun.spawn(["bash", "-e", "-c", script], { cwd: h.dir, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain('"name":"web"');
    expect(stdout).toContain('"type":"WorkloadApplied"');
    expect(stdout).toContain('{"code":5,"message":"workload \\"nope\\" not found","details":[]}');
    expect(JSON.parse(readFileSync(join(h.dir, "tessera-openapi.json"), "utf8")).openapi).toStartWith("3.");
  });

  test("a client generated from /v1/openapi.json by a standard generator lists workloads", async () => {
    const token = readFileSync(join(h.dir, "control", "admin-token"), "utf8").trim();
    await Bun.write(join(h.dir, "gen-client.json"), JSON.stringify({ name: "gen-client", spec: { command: "/bin/sleep", args: ["1"], replicas: 0 } }));
    expect((await ctl("apply", "-f", join(h.dir, "gen-client.json"))).code).toBe(0);
    const served = await fetch(`http://${http}/v1/openapi.json`);
    expect(served.status).toBe(200);
    const out = mkdtempSync(join(tmpdir(), "tessera-client-"));
    try {
      await Bun.write(join(out, "openapi.json"), await served.text());
      const generator = join(import.meta.dir, "../../node_modules/.bin/openapi");
      const gen = Bun.spawnSync([generator, "--input", join(out, "openapi.json"), "--output", join(out, "client"), "--client", "fetch"], { stderr: "pipe" });
      expect({ code: gen.exitCode, stderr: gen.stderr.toString() }).toEqual({ code: 0, stderr: "" });
      const client = await import(join(out, "client", "index.ts"));
      client.OpenAPI.BASE = `http://${http}`;
      client.OpenAPI.TOKEN = token;
      const page = await client.ControlPlaneService.listWorkloads(100);
      expect(page.workloads.map((w: { name: string }) => w.name)).toContain("gen-client");
      client.OpenAPI.TOKEN = "not-a-token";
      const refused = await client.ControlPlaneService.listWorkloads(100).then(() => "accepted", (e: { status: number }) => e.status);
      expect(refused).toBe(401);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test("ctl events prints what is committed and stops; --from resumes; --topic and --key filter", async () => {
    const apply = (name: string) => h.run(["ctl", "apply", "-f", join(h.dir, `${name}.json`)], { TESSERA_CONTROL: address });
    for (const name of ["ev-a", "ev-b"]) {
      await Bun.write(join(h.dir, `${name}.json`), JSON.stringify({ name, spec: { command: "/bin/sleep", args: ["1"], replicas: 0 } }));
      expect((await apply(name)).code).toBe(0);
    }
    const all = await ctl("events");
    expect(all.code).toBe(0);
    const events = all.stdout.trim().split("\n").map((l) => JSON.parse(l) as { sequence: string; type: string; workload?: string });
    const seqs = events.map((e) => Number(e.sequence));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const mid = seqs[Math.floor(seqs.length / 2)]!;
    const resumed = await ctl("events", "--from", String(mid));
    expect(resumed.stdout.trim().split("\n").map((l) => Number(JSON.parse(l).sequence))).toEqual(seqs.filter((s) => s >= mid));
    const filtered = await ctl("events", "--topic", "workload", "--key", "ev-b");
    expect(filtered.stdout.trim().split("\n").map((l) => JSON.parse(l).workload)).toEqual(["ev-b"]);
    const bad = await ctl("events", "--topic", "weather");
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining("--topic: expected one of Workload")]);
  });
});
