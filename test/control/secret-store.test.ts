/**
 * Secrets and configs in the store (each kind): the kept versions and their payloads survive a
 * restart, a delete takes every row, and the event log's rows hold no payload (#30, invariant 37);
 * a rotation of the cluster key replaces payloads and digests in one turn's transaction.
 */
import { expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { runTurn } from "../../src/core/reconcile/turn.js";
import { storeBackends } from "./store-backends.js";

const T0 = 1_000_000;
const put = (name: string, digest: string, create: boolean, kind: "secret" | "config" = "secret"): Command => ({
  type: "PutSecret",
  kind,
  name,
  keys: [{ key: "password", size: 8 }],
  digest,
  payload: `PAYLOAD-${name}-${digest}`,
  create,
  by: "admin",
});

for (const backend of storeBackends("secrets on PostgreSQL")) {
  test.skipIf(backend.skip)(`${backend.name}: versions and payloads survive a restart; a delete takes them; the log holds none`, async () => {
    const { store, reopen } = await backend.fresh();
    const state = await store.load();
    const commands: Command[] = [put("db", "d1", true), put("db", "d2", false), put("app", "c1", true, "config"), put("gone", "g1", true), { type: "DeleteSecret", kind: "secret", name: "gone", by: "admin" }];
    for (const c of commands) {
      const turn = runTurn(state, [c], { now: T0, policy: DEFAULT_POLICY, reconcile: false });
      expect(turn.decisions[0]!.rejection).toBeUndefined();
      const stored = await store.commit(turn.events, state);
      expect(JSON.stringify(stored)).not.toContain("PAYLOAD-");
    }
    const logged = await store.history.eventsAfter(0, 100);
    expect(logged.map((e) => e.event.type)).toEqual(["SecretUpdated", "SecretUpdated", "SecretUpdated", "SecretUpdated", "SecretDeleted"]);
    expect(JSON.stringify(logged)).not.toContain("PAYLOAD-");
    await store.close();

    const restarted = await reopen();
    const loaded = await restarted.load();
    expect(Object.fromEntries(loaded.secrets)).toEqual(Object.fromEntries(state.secrets));
    expect(loaded.secrets.get("secret/db")!.versions.map((v) => [v.version, v.payload])).toEqual([[1, "PAYLOAD-db-d1"], [2, "PAYLOAD-db-d2"]]);
    expect(loaded.secrets.has("secret/gone")).toBe(false);
    await restarted.close();
  });

  test.skipIf(backend.skip)(`${backend.name}: the re-sealed payloads and digests replace the old in the turn's one transaction, and survive a restart`, async () => {
    const { store, reopen } = await backend.fresh();
    const state = await store.load();
    const reseal: Command = {
      type: "ResealSecrets",
      versions: [
        { name: "db", version: 1, from: "PAYLOAD-db-d1", digest: "r1", payload: "RESEALED-1" },
        { name: "db", version: 2, from: "PAYLOAD-db-d2", digest: "r2", payload: "RESEALED-2" },
      ],
      by: "admin",
    };
    for (const c of [put("db", "d1", true), put("db", "d2", false), put("app", "c1", true, "config"), reseal]) {
      const turn = runTurn(state, [c], { now: T0, policy: DEFAULT_POLICY, reconcile: false });
      expect(turn.decisions[0]!.rejection).toBeUndefined();
      await store.commit(turn.events, state);
    }
    const logged = await store.history.eventsAfter(0, 100);
    expect(logged.at(-1)!.event).toEqual({ type: "SecretResealed", at: T0, name: "db", versions: [{ version: 1, digest: "r1" }, { version: 2, digest: "r2" }], by: "admin" });
    expect(JSON.stringify(logged)).not.toContain("RESEALED-");
    await store.close();
    const restarted = await reopen();
    const loaded = await restarted.load();
    expect(loaded.secrets.get("secret/db")!.versions.map((v) => [v.version, v.digest, v.payload])).toEqual([[1, "r1", "RESEALED-1"], [2, "r2", "RESEALED-2"]]);
    expect(loaded.secrets.get("config/app")!.versions[0]!.payload).toBe("PAYLOAD-app-c1");
    await restarted.close();
  });
}
