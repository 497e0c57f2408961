/**
 * How events change secrets and configs: a version added (the oldest beyond versionsKept
 * dropped, with its payload), a record deleted. PURE, in place (see evolve.ts); a record's
 * version list is replaced, never changed in place, for forkState.
 */
import { SECRET_LIMITS, secretId } from "../model/secrets.js";
import type { Evolvers } from "./state-edits.js";

export const secretEvolvers = {
  SecretUpdated(state, e) {
    const id = secretId(e.kind, e.name);
    const prior = state.secrets.get(id);
    const version = { version: e.version, keys: e.keys, digest: e.digest, by: e.by, at: e.at, ...(e.payload !== undefined && { payload: e.payload }) };
    const versions = [...(prior?.versions ?? []), version].slice(-SECRET_LIMITS.versionsKept);
    state.secrets.set(id, { kind: e.kind, name: e.name, createdAt: prior?.createdAt ?? e.at, versions });
  },
  SecretDeleted(state, e) {
    state.secrets.delete(secretId(e.kind, e.name));
  },
  SecretResealed(state, e) {
    const id = secretId("secret", e.name);
    const prior = state.secrets.get(id)!;
    const by = new Map(e.versions.map((v) => [v.version, v]));
    const versions = prior.versions.map((v) => {
      const r = by.get(v.version);
      // From the log (no payload): the new digest; the payload held, if any, is kept as it was.
      return r === undefined ? v : { ...v, digest: r.digest, ...(r.payload !== undefined ? { payload: r.payload } : {}) };
    });
    state.secrets.set(id, { ...prior, versions });
  },
} satisfies Partial<Evolvers>;
