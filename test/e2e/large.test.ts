/**
 * Sizes past the 4 MiB message limit, through the compiled binary: ~5 MB of workloads listed by
 * ctl (it follows the pages), whole through a pipe; manifests and stdin over the limit refused
 * before they are read whole; out-of-range numeric flags refused as usage errors.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, BINARY, E2E_TIMEOUT_MS, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const env = () => ({ ...process.env, TESSERA_CONTROL: address, TESSERA_DATA_DIR: join(h.dir, "control") });
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
/** 25 workloads of ~200 KB: about 5 MB, more than one answer may hold. */
const NAMES = Array.from({ length: 25 }, (_, n) => `big-${String(n).padStart(2, "0")}`);

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    const { creds, options } = adminChannel(join(h.dir, "control"));
    const client = new ControlPlaneClient(address, creds, options);
    try {
      // One call each: together they would not fit one request either.
      for (const name of NAMES) {
        const spec = WorkloadSpec.fromPartial({ command: "/bin/sleep", args: ["3600"], replicas: 0, env: { PAYLOAD: name.padEnd(200_000, "x") } });
        await new Promise((resolve, reject) => client.applyWorkload({ workload: { name, labels: {}, spec, generation: 0 } }, (err, res) => (err ? reject(err) : resolve(res))));
      }
    } finally {
      client.close();
    }
  }),
);
afterAll(() => h.stop());

describe("lists over the message limit", () => {
  test("`get workloads` lists all of them, as a table and as JSON", async () => {
    const table = await ctl("get", "workloads");
    expect([table.code, table.stderr]).toEqual([0, ""]);
    expect(table.stdout.split("\n").filter((l) => l.startsWith("big-")).map((l) => l.split(/\s+/)[0])).toEqual(NAMES);
    const json = await ctl("get", "workloads", "-o", "json");
    expect([json.code, json.stderr]).toEqual([0, ""]);
    const doc = JSON.parse(json.stdout) as { workloads: Array<{ name: string; spec: { env: Record<string, string> } }>; nextPageToken?: string };
    expect(doc.workloads.map((w) => w.name)).toEqual(NAMES);
    expect(doc.workloads.every((w) => w.spec.env.PAYLOAD!.length === 200_000)).toBe(true);
    expect(doc.nextPageToken).toBeUndefined();
    const yaml = await ctl("get", "workloads", "-o", "yaml");
    expect((Bun.YAML.parse(yaml.stdout) as { workloads: unknown[] }).workloads.length).toBe(25);
  });

  test("output reaches a pipe whole, even when its reader is slow", async () => {
    // The reader starts a second late, so the ~5 MB wait in the pipe (64 KiB) when ctl is done:
    // a ctl that exited without draining stdout left exactly 65536 bytes.
    const expected = (await ctl("get", "workloads", "-o", "json")).stdout.length;
    expect(expected).toBeGreaterThan(5_000_000);
    const proc = Bun.spawn(["sh", "-c", '"$0" ctl get workloads -o json | (sleep 1; wc -c); exit "${PIPESTATUS:-0}"', BINARY], { env: env(), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect([code, err, Number(out.trim())]).toEqual([0, "", expected]);
  });

  test("`history` follows pages too", async () => {
    const res = await ctl("history", "big-03");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("WorkloadApplied");
  });
});

describe("input over the message limit is refused before it is read", () => {
  test("a 50 MB manifest: exit 2, one line naming the file and the limit", async () => {
    const file = join(h.dir, "huge.json");
    // Sparse: 50 MB by size, nothing on disk. Read whole, it would not even parse.
    writeFileSync(file, "");
    truncateSync(file, 50 * 1024 * 1024);
    const res = await ctl("apply", "-f", file);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`error: ${file}: 52428800 bytes, over the 4194304-byte (4 MiB) limit of one request; apply its workloads in several parts\n`);
  });

  test("a directory whose manifests hold more than the limit together", async () => {
    const dir = join(h.dir, "too-much");
    mkdirSync(dir);
    for (const f of ["a.json", "b.yaml"]) {
      writeFileSync(join(dir, f), "");
      truncateSync(join(dir, f), 3 * 1024 * 1024);
    }
    const res = await ctl("apply", "-f", dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toStartWith(`error: ${dir}: 6291456 bytes in its manifests, over the 4194304-byte (4 MiB) limit`);
  });

  test("stdin is read only up to the limit", async () => {
    const proc = Bun.spawn([BINARY, "ctl", "apply", "-f", "-"], { env: env(), stdin: new Blob(["[", " ".repeat(6 * 1024 * 1024)]), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect([code, out, err]).toEqual([2, "", "error: <stdin>: more than 4194304 bytes, over the 4194304-byte (4 MiB) limit of one request; apply its workloads in several parts\n"]);
  });
});

describe("numeric flags out of range are usage errors", () => {
  test.each([
    [["history", "big-00", "--limit", "99999999999"], '--limit: expected a whole number from 0 to 4294967295, got "99999999999"'],
    [["history", "big-00", "--limit=-1"], '--limit: expected a whole number from 0 to 4294967295, got "-1"'],
    [["logs", "big-00", "--tail", "4294967296"], '--tail: expected a whole number from 0 to 4294967295, got "4294967296"'],
    [["apply", "-f", "x.json", "--timeout", "soon"], '--timeout: expected a duration like 500ms, 40s or 1m30s (a bare number is seconds), got "soon"'],
  ])("ctl %p: exit 2 naming the flag and the range", async (args, message) => {
    const res = await ctl(...args);
    expect([res.code, res.stderr, res.stdout]).toEqual([2, `error: ${message}\n`, ""]);
  });

  test("the largest --limit is a limit like any other", async () => {
    const res = await ctl("history", "big-00", "--limit", "4294967295");
    expect([res.code, res.stderr]).toEqual([0, ""]);
  });
});
