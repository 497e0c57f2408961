/**
 * writeSecret from several processes at once: simulated agents that share a data dir all write
 * its CA while they enroll. Each write must land whole, owner-only, and leave no temporary file.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const HELPER = resolve(import.meta.dir, "../../src/shell/write-secret.ts");
const WRITERS = 4;
const WRITES = 200;

test("four processes writing one secret file at once all succeed, and it holds one whole text", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-write-secret-"));
  try {
    const path = join(dir, "ca.pem");
    const script = `const { writeSecret } = await import(${JSON.stringify(HELPER)});
      const text = "writer-" + process.argv[1] + "\\n" + "x".repeat(4096);
      for (let i = 0; i < ${WRITES}; i++) writeSecret(${JSON.stringify(path)}, text);`;
    const procs = Array.from({ length: WRITERS }, (_, i) => Bun.spawn([process.execPath, "-e", script, String(i)], { stderr: "pipe" }));
    const codes = await Promise.all(procs.map((p) => p.exited));
    const errors = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
    expect({ codes, errors }).toEqual({ codes: Array(WRITERS).fill(0), errors: Array(WRITERS).fill("") });
    expect(readFileSync(path, "utf8")).toMatch(/^writer-[0-3]\nx{4096}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["ca.pem"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
