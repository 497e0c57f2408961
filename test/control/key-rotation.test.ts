/**
 * Rotating the cluster key (security/key-rotation.ts) against a writer that decides with the
 * core: every secret sealed again under the next generation, the old key dropped from the
 * data dir's file; and at every point a stop could come (the key written, the turn not
 * committed), every stored value still opens with a key the file keeps.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { evolve } from "../../src/core/events/evolve.js";
import { emptyState } from "../../src/core/model/cluster-state.js";
import { DataDirKeys } from "../../src/control/security/cluster-keys.js";
import { rotateClusterKey } from "../../src/control/security/key-rotation.js";
import { generationOf, SecretSealer, SecretSealMismatch } from "../../src/control/security/secret-seal.js";
import type { CommandPort } from "../../src/control/writer/writer.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-rotation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A writer deciding with the core; a submit of a command type in `failing` fails, as a process stopped before its commit. */
function fakeWriter(failing: Set<Command["type"]>): CommandPort {
  const state = emptyState();
  return {
    view: state,
    async submit(c) {
      if (failing.has(c.type)) throw new Error("stopped before the commit");
      const d = decide(state, c, 1_000);
      for (const e of d.events) evolve(state, e);
      return d;
    },
  };
}

async function setUp(name: string, failing = new Set<Command["type"]>()) {
  const keys = new DataDirKeys(mkdtempSync(join(dir, name)));
  const sealer = new SecretSealer(await keys.load());
  const writer = fakeWriter(failing);
  for (const [secret, value] of [["db", "one"], ["db", "two"], ["api", "three"]] as const) {
    const sealed = sealer.seal("secret", secret, { v: Buffer.from(value) });
    await writer.submit({ type: "PutSecret", kind: "secret", name: secret, ...sealed, create: !writer.view.secrets.has(`secret/${secret}`), by: "admin" });
  }
  return { keys, sealer, writer };
}

/** Every stored value, opened with the keys the file holds now (as a restarted control plane would). */
async function openedFromFile(keys: DataDirKeys, writer: CommandPort): Promise<string[]> {
  const fromFile = new SecretSealer(await keys.load());
  return [...writer.view.secrets.values()].flatMap((r) => r.versions.map((v) => Buffer.from(fromFile.open(r.name, v.payload!).v!).toString()));
}

test("every version sealed again under generation 1, the file holding only its key; the values the same", async () => {
  const { keys, sealer, writer } = await setUp("ok-");
  const old = await keys.load();
  expect(await rotateClusterKey(writer, sealer, keys, "admin")).toEqual({ generation: 1, resealed: 3 });
  const held = await keys.load();
  expect([...held.keys()]).toEqual([1]);
  expect(held.get(1)).not.toEqual(old.get(0));
  for (const r of writer.view.secrets.values()) for (const v of r.versions) expect(generationOf(v.payload!)).toBe(1);
  expect(await openedFromFile(keys, writer)).toEqual(["one", "two", "three"]);
  // A second rotation moves them on again.
  expect(await rotateClusterKey(writer, sealer, keys, "admin")).toMatchObject({ generation: 2 });
  expect([...(await keys.load()).keys()]).toEqual([2]);
});

test("stopped after the new key was written, before the turn committed: the values are under the old key, which the file still holds", async () => {
  const failing = new Set<Command["type"]>(["ResealSecrets"]);
  const { keys, sealer, writer } = await setUp("crash-", failing);
  await expect(rotateClusterKey(writer, sealer, keys, "admin")).rejects.toThrow("stopped before the commit");
  expect([...(await keys.load()).keys()].sort()).toEqual([0, 1]);
  expect(await openedFromFile(keys, writer)).toEqual(["one", "two", "three"]);
  // Started again, the next rotation completes it and drops both older keys.
  failing.clear();
  expect(await rotateClusterKey(writer, sealer, keys, "admin")).toMatchObject({ generation: 2, resealed: 3 });
  expect([...(await keys.load()).keys()]).toEqual([2]);
  expect(await openedFromFile(keys, writer)).toEqual(["one", "two", "three"]);
});

test("a stored value no kept key opens (a replaced secrets.key) stops the rotation before anything is written", async () => {
  const { keys, writer } = await setUp("replaced-");
  const before = await keys.load();
  const stranger = new SecretSealer(new Map([[0, Buffer.alloc(32, 1)]]));
  await expect(rotateClusterKey(writer, stranger, keys, "admin")).rejects.toThrow(SecretSealMismatch);
  expect(await keys.load()).toEqual(before);
  expect(stranger.generation).toBe(0);
});
