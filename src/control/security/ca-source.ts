/**
 * The cluster CA kept in the database (`--store postgres://…`): every control plane on it
 * serves the same identity, and a new one needs no copy of the first's data dir, only the
 * database's address and the CA secret. The key is stored sealed (ca-seal.ts). The first
 * control plane writes it: the data dir's own CA when it has one (a cluster that kept its CA
 * in the first control plane's data dir keeps it, and its agents keep trusting it), a new one
 * otherwise.
 */
import type { Logger } from "../../shell/logger.js";
import type { ClusterCaStore } from "../store/store.js";
import { CaSecretMismatch, openCaKey, sealCaKey } from "./ca-seal.js";
import { type CaSource, createCa, pkiFiles, readDirCa } from "./pki.js";

/** The refusal when the secret given does not open the stored key. */
export const CA_SECRET_MISMATCH = "--ca-secret-file: cannot decrypt the cluster CA stored in the database (wrong secret?)";

/** The CA's secret, or why a control plane on PostgreSQL cannot start without it. */
export class CaSecretRefused extends Error {}

export function databaseCa(store: ClusterCaStore, secret: string, dataDir: string, log: Logger): CaSource {
  return async () => {
    let from = "";
    const row = await store.clusterCa(async () => {
      const own = readDirCa(dataDir);
      from = own ? pkiFiles(dataDir).caCert : "new";
      const ca = own ?? (await createCa());
      return { cert: ca.certPem, sealedKey: await sealCaKey(ca.keyPem, secret) };
    });
    let keyPem: string;
    try {
      keyPem = await openCaKey(row.sealedKey, secret);
    } catch (err) {
      if (err instanceof CaSecretMismatch) throw new CaSecretRefused(CA_SECRET_MISMATCH);
      throw err;
    }
    if (row.created) log.info("cluster CA stored in the database, its key sealed with the CA secret", { ca: from });
    return { certPem: row.cert, keyPem };
  };
}
