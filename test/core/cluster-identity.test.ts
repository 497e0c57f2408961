/**
 * decideIdentity(): every combination of what a start can find in the data dir and its
 * database, against the decision written out by hand; then --reinitialize over each.
 */
import { describe, expect, test } from "bun:test";
import { decideIdentity, type IdentityDecision, type IdentityFindings } from "../../src/core/ha/cluster-identity.js";

const FRESH = "fresh-id";

function found(over: Partial<IdentityFindings>): IdentityFindings {
  return { dirId: undefined, database: { id: undefined, hasState: false }, dirHasCredentials: false, reinitialize: false, freshId: FRESH, ...over };
}

const cases: Array<[string, Partial<IdentityFindings>, IdentityDecision]> = [
  ["both copies agree", { dirId: "a", database: { id: "a", hasState: true }, dirHasCredentials: true }, { type: "Go", id: "a" }],
  ["a brand-new data dir", {}, { type: "Record", id: FRESH, inDir: true, inDatabase: true }],
  ["the cluster-id file was lost: restored from the database", { database: { id: "a", hasState: true }, dirHasCredentials: true }, { type: "Record", id: "a", inDir: true, inDatabase: false }],
  [
    "a data dir from before ids (rows, events) adopts one",
    { database: { id: undefined, hasState: true }, dirHasCredentials: true },
    { type: "Record", id: FRESH, inDir: true, inDatabase: true },
  ],
  ["an insecure data dir from before ids adopts one", { database: { id: undefined, hasState: true } }, { type: "Record", id: FRESH, inDir: true, inDatabase: true }],
  [
    "an emptied database beside the cluster's id",
    { dirId: "a", dirHasCredentials: true },
    { type: "Refuse", refusal: { type: "DatabaseLostIdentity", dirId: "a" } },
  ],
  [
    "a database with state but no id beside the cluster's id (replaced by an old one)",
    { dirId: "a", database: { id: undefined, hasState: true }, dirHasCredentials: true },
    { type: "Refuse", refusal: { type: "DatabaseLostIdentity", dirId: "a" } },
  ],
  [
    "the finding: an empty database beside a CA and tokens from before ids",
    { dirHasCredentials: true },
    { type: "Refuse", refusal: { type: "EmptyDatabaseBesideCluster" } },
  ],
  [
    "another cluster's database",
    { dirId: "a", database: { id: "b", hasState: true }, dirHasCredentials: true },
    { type: "Refuse", refusal: { type: "ForeignDatabase", dirId: "a", dbId: "b" } },
  ],
  ["a damaged database", { dirId: "a", database: "unreadable", dirHasCredentials: true }, { type: "Refuse", refusal: { type: "DatabaseUnreadable" } }],
  ["a damaged database in a data dir from before ids", { database: "unreadable", dirHasCredentials: true }, { type: "Refuse", refusal: { type: "DatabaseUnreadable" } }],
];

describe("as found", () => {
  test.each(cases)("%s", (_name, findings, expected) => {
    expect(decideIdentity(found(findings))).toEqual(expected);
  });
});

describe("with --reinitialize", () => {
  test.each(cases)("%s", (_name, findings, asFound) => {
    const decision = decideIdentity(found({ ...findings, reinitialize: true }));
    if (asFound.type !== "Refuse") {
      // Never wipes a database the data dir accepts: the flag is ignored.
      expect(decision).toEqual(asFound);
      return;
    }
    // The cluster keeps its id (and so its CA and tokens); one is made only where the dir had none.
    const dirId = findings.dirId;
    expect(decision).toEqual(
      dirId !== undefined
        ? { type: "StartOver", id: dirId, inDir: false, overrides: asFound.refusal }
        : { type: "StartOver", id: FRESH, inDir: true, overrides: asFound.refusal },
    );
  });
});
