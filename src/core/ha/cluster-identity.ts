/**
 * Does this database belong to this data dir's cluster? Pure: what the control plane found on
 * start → go, record an identity, start over, or a named refusal.
 *
 * A cluster's id is kept twice: in the data dir (a `cluster-id` file beside the CA and tokens)
 * and in the database (a meta row). An emptied database once started as a new, empty cluster
 * beside the old cluster's CA and tokens, reported ready, and would have told every agent to
 * stop everything; the two copies are what tells such a database from a brand-new one.
 */

/** What was found in the data dir and its database. */
export interface IdentityFindings {
  /** The id in the data dir's `cluster-id` file. */
  dirId: string | undefined;
  /** The id in the database; "unreadable" when the database is damaged or not a database. */
  database: { id: string | undefined; hasState: boolean } | "unreadable";
  /** The data dir holds a cluster's CA or tokens from an earlier start. */
  dirHasCredentials: boolean;
  /** The operator asked to start the cluster over with an empty state (`--reinitialize`). */
  reinitialize: boolean;
  /** A new id, used only when one has to be made (randomness is an input). */
  freshId: string;
}

/** Why the control plane will not start on this database. */
export type IdentityRefusal =
  /** The data dir has an id, the database none: it was emptied or replaced. */
  | { type: "DatabaseLostIdentity"; dirId: string }
  /** An empty database beside an earlier cluster's CA and tokens (from before ids were recorded). */
  | { type: "EmptyDatabaseBesideCluster" }
  /** The database is another cluster's. */
  | { type: "ForeignDatabase"; dirId: string; dbId: string }
  /** SQLite cannot read the database. */
  | { type: "DatabaseUnreadable" };

export type IdentityDecision =
  /** Both copies agree. */
  | { type: "Go"; id: string }
  /** Write the id where it is missing: a new data dir, a restored `cluster-id` file, or an upgraded one adopting an id. */
  | { type: "Record"; id: string; inDir: boolean; inDatabase: boolean }
  /** `--reinitialize` over a refusal: move the database aside and start `id` over empty, keeping CA and tokens. */
  | { type: "StartOver"; id: string; inDir: boolean; overrides: IdentityRefusal }
  | { type: "Refuse"; refusal: IdentityRefusal };

/** The decision without `--reinitialize`. */
function decideAsFound(f: IdentityFindings): Exclude<IdentityDecision, { type: "StartOver" }> {
  if (f.database === "unreadable") return { type: "Refuse", refusal: { type: "DatabaseUnreadable" } };
  const { id: dbId, hasState } = f.database;
  if (f.dirId !== undefined && dbId !== undefined) {
    return f.dirId === dbId ? { type: "Go", id: dbId } : { type: "Refuse", refusal: { type: "ForeignDatabase", dirId: f.dirId, dbId } };
  }
  if (f.dirId !== undefined) return { type: "Refuse", refusal: { type: "DatabaseLostIdentity", dirId: f.dirId } };
  if (dbId !== undefined) return { type: "Record", id: dbId, inDir: true, inDatabase: false };
  // Neither has an id: a data dir from before ids were recorded, or a brand-new one.
  if (hasState) return { type: "Record", id: f.freshId, inDir: true, inDatabase: true };
  if (f.dirHasCredentials) return { type: "Refuse", refusal: { type: "EmptyDatabaseBesideCluster" } };
  return { type: "Record", id: f.freshId, inDir: true, inDatabase: true };
}

/**
 * `--reinitialize` only overrides a refusal: a database that belongs to the data dir is never
 * wiped, so a flag left in a service definition cannot empty the cluster at its next restart.
 */
export function decideIdentity(f: IdentityFindings): IdentityDecision {
  const decision = decideAsFound(f);
  if (decision.type !== "Refuse" || !f.reinitialize) return decision;
  return f.dirId !== undefined
    ? { type: "StartOver", id: f.dirId, inDir: false, overrides: decision.refusal }
    : { type: "StartOver", id: f.freshId, inDir: true, overrides: decision.refusal };
}
