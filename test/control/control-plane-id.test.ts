/**
 * The control plane's id kept in its data dir (src/control/lifecycle/control-plane-id.ts): the same on a
 * restart, new for a data dir that was copied elsewhere or whose file is not one.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { controlPlaneId } from "../../src/control/lifecycle/control-plane-id.js";

const root = mkdtempSync(join(tmpdir(), "tessera-cp-id-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const fresh = () => `id-${++n}`;

test("made once, then the same at every start on the same data dir", () => {
  const dir = mkdtempSync(join(root, "a-"));
  const first = controlPlaneId(dir, fresh);
  expect(controlPlaneId(dir, fresh)).toBe(first);
  expect(controlPlaneId(dir, fresh)).toBe(first);
});

test("a data dir copied to another path gets an id of its own (two live control planes must never share one)", () => {
  const dir = mkdtempSync(join(root, "b-"));
  const original = controlPlaneId(dir, fresh);
  const copy = join(root, "b-copy");
  cpSync(dir, copy, { recursive: true });
  const copied = controlPlaneId(copy, fresh);
  expect(copied).not.toBe(original);
  expect(controlPlaneId(dir, fresh)).toBe(original);
  expect(controlPlaneId(copy, fresh)).toBe(copied);
});

test("a file from another host, or one that is not a record, is replaced by a new id", () => {
  const dir = mkdtempSync(join(root, "c-"));
  const file = join(dir, "control-plane-id");
  writeFileSync(file, `${JSON.stringify({ id: "elsewhere", host: "some-other-host", dir })}\n`);
  const mine = controlPlaneId(dir, fresh);
  expect(mine).not.toBe("elsewhere");
  expect(controlPlaneId(dir, fresh)).toBe(mine);
  for (const junk of ["", "not json", "{}", JSON.stringify({ id: "", host: "h", dir })]) {
    writeFileSync(file, junk);
    const replaced = controlPlaneId(dir, fresh);
    expect(replaced).not.toBe(mine);
    expect(controlPlaneId(dir, fresh)).toBe(replaced);
  }
});
