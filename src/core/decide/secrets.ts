/**
 * Deciding secrets and configs: a new version when the set changed, a delete. PURE. The shell
 * made the digest and the payload; the core judges names, keys and sizes, and numbers versions.
 */
import { currentVersion, secretId, validateSecretSet } from "../model/secrets.js";
import { accept, type Deciders, refuse } from "./decision.js";

export const secretDeciders = {
  PutSecret(state, c, now) {
    const problem = validateSecretSet(c.kind, c.name, c.keys);
    if (problem) return refuse(problem);
    const prior = state.secrets.get(secretId(c.kind, c.name));
    if (c.create && prior) return refuse({ kind: "SecretExists", secretKind: c.kind, name: c.name });
    if (!c.create && !prior) return refuse({ kind: "UnknownSecret", secretKind: c.kind, name: c.name });
    // The same values again are no new version: nothing to roll out.
    if (prior && currentVersion(prior).digest === c.digest) return accept();
    const version = prior ? currentVersion(prior).version + 1 : 1;
    const keys = [...c.keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return accept([{ type: "SecretUpdated", at: now, kind: c.kind, name: c.name, version, keys, digest: c.digest, by: c.by, payload: c.payload }]);
  },
  DeleteSecret(state, c, now) {
    if (!state.secrets.has(secretId(c.kind, c.name))) return refuse({ kind: "UnknownSecret", secretKind: c.kind, name: c.name });
    return accept([{ type: "SecretDeleted", at: now, kind: c.kind, name: c.name, by: c.by }]);
  },
} satisfies Partial<Deciders>;
