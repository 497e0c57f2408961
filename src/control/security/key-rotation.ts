/**
 * Rotating the cluster key (shell: it seals, the writer records). The steps keep every stored
 * value openable by a key that is kept, whenever the process stops:
 *
 *   1. the next generation's key is kept (SQLite: written to secrets.key beside the keys the
 *      stored values use, synced, before anything is sealed under it; PostgreSQL: derived, so
 *      nothing to write);
 *   2. every kept version of every secret is opened and sealed again under it, and the writer
 *      records them all in one turn (ResealSecrets → SecretResealed, one store transaction),
 *      refused unless it covers each sealed version as it stands;
 *   3. once committed, the keys nothing stored needs any more are dropped (the file rewritten).
 *
 * A stop between 1 and 2 leaves the values under the old key, which is still kept; between 2
 * and 3, under the new one, with the old one kept too until the next rotation drops it. Puts
 * wait while a rotation runs (SecretSealer.exclusive), so none is sealed under a key it retires.
 */
import type { Rejection } from "../../core/model/rejections.js";
import type { CommandPort } from "../writer/writer.js";
import type { ClusterKeys } from "./cluster-keys.js";
import { generationsInUse, type SecretSealer } from "./secret-seal.js";

export interface Rotated {
  /** The generation every value is sealed under now. */
  generation: number;
  /** How many versions were sealed again. */
  resealed: number;
}

/** Rotates the key; the writer's refusal (the secrets changed meanwhile: rotate again) is returned. */
export function rotateClusterKey(writer: CommandPort, sealer: SecretSealer, keys: ClusterKeys, by: string): Promise<Rotated | { rejection: Rejection }> {
  return sealer.exclusive(async () => {
    const inUse = generationsInUse(writer.view.secrets);
    const generation = Math.max(sealer.generation, ...inUse) + 1;
    const held = await keys.load(inUse);
    const keep = new Map([...held].filter(([g]) => inUse.has(g) || g === sealer.generation));
    // Opened first: a value no key here opens stops the rotation before anything is written.
    const opened = [...writer.view.secrets.values()]
      .filter((r) => r.kind === "secret")
      .flatMap((r) => r.versions.flatMap((v) => (v.payload === undefined ? [] : [{ name: r.name, version: v.version, from: v.payload, data: sealer.open(r.name, v.payload) }])));
    const key = await keys.add(generation, keep);
    sealer.use(generation, key);
    const versions = opened.map(({ data, ...v }) => {
      const sealed = sealer.seal("secret", v.name, data);
      return { ...v, digest: sealed.digest, payload: sealed.payload };
    });
    const d = await writer.submit({ type: "ResealSecrets", versions, by });
    if (d.rejection) return { rejection: d.rejection };
    // Whatever happened meanwhile, only the keys the stored values use, and the newest, stay.
    const stillUsed = generationsInUse(writer.view.secrets);
    if ([...stillUsed].every((g) => g === generation)) {
      sealer.forgetOlder();
      keys.keepOnly(new Map([[generation, key]]));
    }
    return { generation, resealed: versions.length };
  });
}
