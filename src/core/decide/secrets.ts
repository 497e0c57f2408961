/**
 * Deciding secrets and configs: a new version when the set changed, a delete. PURE. The shell
 * made the digest and the payload; the core judges names, keys and sizes, and numbers versions.
 */
import type { ClusterState } from "../model/cluster-state.js";
import type { ClusterEvent } from "../events/cluster-events.js";
import { usesSet } from "../model/secret-use.js";
import { currentVersion, type SecretKind, secretId, validateSecretSet } from "../model/secrets.js";
import { applySpec } from "./workloads.js";
import { accept, type Decision, type Deciders, refuse } from "./decision.js";

/**
 * A new version of what workloads use is rolled out to them: each gets a new generation whose
 * spec names the new version, and its rollout runs under its own update strategy (a canary, waves,
 * auto_revert back to the version before); under on_change SIGNAL or NONE its copies are sent
 * the version in place instead (workloads.ts). Forced: the operator's change of a secret is not
 * refused for a spec once quarantined.
 */
function rollUsers(state: ClusterState, kind: SecretKind, name: string, version: number, now: number): Decision[] {
  const id = secretId(kind, name);
  return [...state.workloads.values()]
    .filter((w) => !w.deleting && usesSet(w.spec, kind, name))
    .map((w) => applySpec(state, { type: "ApplyWorkload", name: w.name, labels: w.labels, force: true }, { ...w.spec, secretVersions: { ...w.spec.secretVersions, [id]: version } }, now));
}

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
    const updated: ClusterEvent = { type: "SecretUpdated", at: now, kind: c.kind, name: c.name, version, keys, digest: c.digest, by: c.by, payload: c.payload };
    // Each user's new generation; under on_change SIGNAL or NONE, the refresh of its copies too.
    const rolled = rollUsers(state, c.kind, c.name, version, now);
    return accept([updated, ...rolled.flatMap((d) => d.events)], rolled.flatMap((d) => d.effects));
  },
  ResealSecrets(state, c, now) {
    const given = new Map(c.versions.map((v) => [`${v.name}\n${v.version}`, v]));
    const events: ClusterEvent[] = [];
    for (const r of state.secrets.values()) {
      if (r.kind !== "secret") continue;
      const versions = r.versions.filter((v) => v.payload !== undefined);
      for (const v of versions) if (given.get(`${r.name}\n${v.version}`)?.from !== v.payload) return refuse({ kind: "SecretsChanged", name: r.name, version: v.version });
      if (versions.length === 0) continue;
      const resealed = versions.map((v) => given.get(`${r.name}\n${v.version}`)!);
      events.push({ type: "SecretResealed", at: now, name: r.name, versions: resealed.map(({ version, digest, payload }) => ({ version, digest, payload })), by: c.by });
    }
    return accept(events);
  },
  DeleteSecret(state, c, now) {
    if (!state.secrets.has(secretId(c.kind, c.name))) return refuse({ kind: "UnknownSecret", secretKind: c.kind, name: c.name });
    return accept([{ type: "SecretDeleted", at: now, kind: c.kind, name: c.name, by: c.by }]);
  },
} satisfies Partial<Deciders>;
