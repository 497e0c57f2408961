/**
 * Node identity and token lifetimes (#27): a join token enrolls only a name nobody holds; a
 * node's current certificate alone renews it and connects as it; approve and remove are the
 * admin's; tokens expire, run out of uses and are revoked.
 */
import { describe, expect, test } from "bun:test";
import { emptyState } from "../../src/core/model/cluster-state.js";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { evolve } from "../../src/core/events/evolve.js";
import { checkNodeCertificate, workingToken } from "../../src/core/access/node-identity.js";

const T0 = 1_700_000_000_000;
const JOIN = "a".repeat(64);
const BOOTSTRAP = "b".repeat(64);
const READONLY = "c".repeat(64);
const ADMIN = "d".repeat(64);

/** Decides and applies each command in turn; returns the state and each decision's rejection kind. */
function run(commands: Command[], at = T0) {
  const state = emptyState();
  const refused: Array<string | undefined> = [];
  for (const c of commands) {
    const d = decide(state, c, at);
    refused.push(d.rejection?.kind);
    for (const e of d.events) evolve(state, e);
  }
  return { state, refused };
}

const tokens: Command[] = [
  { type: "IssueToken", kind: "admin", hash: ADMIN, by: "start" },
  { type: "IssueToken", kind: "join", hash: JOIN, by: "start" },
];
const KEY = "1".repeat(64);
const OTHER_KEY = "2".repeat(64);
/** A join enrollment certifying the key KEY (`keyDigest`; null: a command without one). */
const join = (node: string, serial: string, token = JOIN, keyDigest: string | null = KEY): Command => ({ type: "CertifyNode", node, serial, notAfter: T0 + 1e9, proof: { via: "join", token }, ...(keyDigest !== null && { keyDigest }) });
const renew = (node: string, serial: string, presented: string, keyDigest = OTHER_KEY): Command => ({ type: "CertifyNode", node, serial, notAfter: T0 + 1e9, proof: { via: "renewal", serial: presented }, keyDigest });
const connect = (node: string, serial: string): Command => ({ type: "CertifyNode", node, serial, notAfter: T0 + 1e9, proof: { via: "connection" } });

describe("enrollment", () => {
  test.each<[string, Command[], Array<string | undefined>]>([
    ["a join token enrolls a new name", [join("n1", "01")], [undefined]],
    ["a join token cannot take a name enrolled already: the takeover", [join("n1", "01"), join("n1", "02", JOIN, OTHER_KEY)], [undefined, "NodeNameTaken"]],
    ["the node renews with its current certificate", [join("n1", "01"), renew("n1", "02", "01")], [undefined, undefined]],
    ["until the renewed certificate connects, the one before renews again (its answer was lost)", [join("n1", "01"), renew("n1", "02", "01"), renew("n1", "03", "01"), connect("n1", "03")], [undefined, undefined, undefined, undefined]],
    ["once the renewed certificate connected, the one before is refused", [join("n1", "01"), renew("n1", "02", "01"), connect("n1", "02"), renew("n1", "03", "01"), connect("n1", "01")], [undefined, undefined, undefined, "Unauthenticated", "Unauthenticated"]],
    ["a certificate lost to a later renewal is refused", [join("n1", "01"), renew("n1", "02", "01"), renew("n1", "03", "01"), connect("n1", "02")], [undefined, undefined, undefined, "Unauthenticated"]],
    ["an approved name is taken by the next join, once", [join("n1", "01"), { type: "ApproveNode", node: "n1", by: "admin" }, join("n1", "02", JOIN, OTHER_KEY), join("n1", "03")], [undefined, undefined, undefined, "NodeNameTaken"]],
    ["a removed node's certificate does not renew; its name stays taken", [join("n1", "01"), { type: "RemoveNode", node: "n1", by: "admin" }, renew("n1", "02", "01"), join("n1", "03", JOIN, OTHER_KEY)], [undefined, undefined, "Unauthenticated", "NodeNameTaken"]],
    ["a removed node comes back when approved", [join("n1", "01"), { type: "RemoveNode", node: "n1", by: "admin" }, { type: "ApproveNode", node: "n1", by: "admin" }, join("n1", "02")], [undefined, undefined, undefined, undefined]],
    ["removing a name never enrolled is refused", [{ type: "RemoveNode", node: "n9", by: "admin" }], ["UnknownNode"]],
    ["a wrong token enrolls nothing", [join("n1", "01", READONLY)], ["Unauthenticated"]],
  ])("%s", (_name, commands, expected) => {
    expect(run([...tokens, ...commands]).refused.slice(tokens.length)).toEqual(expected);
  });

  test("a node known from before identities were recorded keeps its name: a join is refused, its certificate is adopted", () => {
    const { state } = run(tokens);
    state.nodes.set("old", { name: "old" } as never);
    expect(decide(state, join("old", "05"), T0).rejection?.kind).toBe("NodeNameTaken");
    expect(checkNodeCertificate(state, "old", "04")).toBe("adopt");
    const d = decide(state, { type: "CertifyNode", node: "old", serial: "04", notAfter: T0 + 1, proof: { via: "connection" } }, T0);
    for (const e of d.events) evolve(state, e);
    expect(checkNodeCertificate(state, "old", "04")).toBeUndefined();
    expect(checkNodeCertificate(state, "old", "05")).toMatchObject({ kind: "Unauthenticated" });
  });

  test("a key digest that is not one is refused naming the field", () => {
    expect(run([...tokens, join("n1", "01", JOIN, "nope")]).state.nodeIdentities.has("n1")).toBe(false);
    expect(decide(run(tokens).state, join("n1", "01", JOIN, "nope"), T0).rejection).toMatchObject({ kind: "InvalidArgument", field: "keyDigest" });
  });

  test("removing closes the node's stream", () => {
    const { state } = run([...tokens, join("n1", "01")]);
    expect(decide(state, { type: "RemoveNode", node: "n1", by: "admin" }, T0).effects).toEqual([{ type: "DisconnectNode", node: "n1", removed: true }]);
  });
});

describe("an enrollment asked again with the same key (its answer was lost)", () => {
  const approve: Command = { type: "ApproveNode", node: "n1", by: "admin" };
  const remove: Command = { type: "RemoveNode", node: "n1", by: "admin" };
  test.each<[string, Command[], Array<string | undefined>]>([
    ["the same key is certified again", [join("n1", "01"), join("n1", "02"), join("n1", "03")], [undefined, undefined, undefined]],
    ["another key is refused", [join("n1", "01"), join("n1", "02", JOIN, OTHER_KEY)], [undefined, "NodeNameTaken"]],
    ["a join without a key digest is refused", [join("n1", "01"), join("n1", "02", JOIN, null)], [undefined, "NodeNameTaken"]],
    ["a removed node's key is refused", [join("n1", "01"), remove, join("n1", "02")], [undefined, undefined, "NodeNameTaken"]],
    ["once the node renewed, its enrollment key is refused", [join("n1", "01"), renew("n1", "02", "01", KEY), join("n1", "03")], [undefined, undefined, "NodeNameTaken"]],
    ["an identity recorded without a digest (from before it was kept) is refused as before", [join("n1", "01", JOIN, null), join("n1", "02")], [undefined, "NodeNameTaken"]],
    ["a certificate adopted at connection has no digest: a join is refused", [connect("n1", "01"), join("n1", "02")], [undefined, "NodeNameTaken"]],
    ["after an approval the next join takes the name with its own key, and that key alone enrolls again", [join("n1", "01"), approve, join("n1", "02", JOIN, OTHER_KEY), join("n1", "03", JOIN, OTHER_KEY), join("n1", "04")], [undefined, undefined, undefined, undefined, "NodeNameTaken"]],
    ["the certificate issued again connects, and keeps the key's digest", [join("n1", "01"), join("n1", "02"), connect("n1", "02"), join("n1", "03")], [undefined, undefined, undefined, undefined]],
    ["the join token must still work", [{ type: "IssueToken", kind: "join", hash: BOOTSTRAP, by: "admin", uses: 1, keepOthers: true }, join("n1", "01", BOOTSTRAP), join("n1", "02", BOOTSTRAP)], [undefined, undefined, "Unauthenticated"]],
  ])("%s", (_name, commands, expected) => {
    expect(run([...tokens, ...commands]).refused.slice(tokens.length)).toEqual(expected);
  });

  test("the certificate the node may hold already stays good beside the one issued again, until that one connects", () => {
    const { state } = run([...tokens, join("n1", "01"), join("n1", "02")]);
    expect(state.nodeIdentities.get("n1")).toMatchObject({ serial: "01", pending: "02", keyDigest: KEY });
    expect(checkNodeCertificate(state, "n1", "01")).toBeUndefined();
    expect(checkNodeCertificate(state, "n1", "02")).toBe("adopt");
    for (const e of decide(state, connect("n1", "02"), T0).events) evolve(state, e);
    expect(state.nodeIdentities.get("n1")).toMatchObject({ serial: "02", pending: null, keyDigest: KEY });
    expect(checkNodeCertificate(state, "n1", "01")).toMatchObject({ kind: "Unauthenticated" });
  });

  test("a join is refused while the node's stream is open, even with its key", () => {
    const { state } = run([...tokens, join("n1", "01")]);
    state.nodes.set("n1", { name: "n1", connected: true } as never);
    expect(decide(state, join("n1", "02"), T0).rejection?.kind).toBe("NodeNameTaken");
    state.nodes.set("n1", { name: "n1", connected: false } as never);
    expect(decide(state, join("n1", "02"), T0).rejection).toBeUndefined();
  });

  test("the event records the key certified", () => {
    const { state } = run(tokens);
    expect(decide(state, join("n1", "01"), T0).events).toEqual([{ type: "NodeCertified", at: T0, node: "n1", serial: "01", notAfter: T0 + 1e9, via: "join", token: JOIN, keyDigest: KEY }]);
  });
});

describe("token lifetimes", () => {
  test("a bootstrap join token works until it expires, beside the data dir's", () => {
    const { state } = run([...tokens, { type: "IssueToken", kind: "join", hash: BOOTSTRAP, by: "admin", expiresAt: T0 + 3_600_000, keepOthers: true }]);
    expect(workingToken(state, BOOTSTRAP, T0 + 3_599_999)?.kind).toBe("join");
    expect(workingToken(state, BOOTSTRAP, T0 + 3_600_000)).toBeUndefined();
    expect(workingToken(state, JOIN, T0 + 3_600_000)?.kind).toBe("join");
    expect(decide(state, join("n1", "01", BOOTSTRAP), T0 + 3_600_000).rejection?.kind).toBe("Unauthenticated");
  });

  test("a join token with 2 uses enrolls two nodes, then none", () => {
    const { refused, state } = run([...tokens, { type: "IssueToken", kind: "join", hash: BOOTSTRAP, by: "admin", uses: 2, keepOthers: true }, join("n1", "01", BOOTSTRAP), join("n2", "02", BOOTSTRAP), join("n3", "03", BOOTSTRAP)]);
    expect(refused.slice(3)).toEqual([undefined, undefined, "Unauthenticated"]);
    expect(state.tokens.get(BOOTSTRAP)?.usesLeft).toBe(0);
  });

  test("rotating the join token revokes the bootstrap ones too", () => {
    const { state } = run([...tokens, { type: "IssueToken", kind: "join", hash: BOOTSTRAP, by: "admin", uses: 2, keepOthers: true }, { type: "IssueToken", kind: "join", hash: "e".repeat(64), by: "admin" }]);
    expect([...state.tokens.keys()].sort()).toEqual([ADMIN, "e".repeat(64)]);
  });

  test.each<[string, Command, string | undefined]>([
    ["a read-only token is revoked by its id", { type: "RevokeToken", id: "sha256:cccccccccccc", by: "admin" }, undefined],
    ["a bootstrap join token is revoked by a prefix of its id", { type: "RevokeToken", id: "bbbbbb", by: "admin" }, undefined],
    ["the admin token is rotated, not revoked", { type: "RevokeToken", id: "sha256:dddddddddddd", by: "admin" }, "PermissionDenied"],
    ["the data dir's join token is rotated, not revoked", { type: "RevokeToken", id: "sha256:aaaaaaaaaaaa", by: "admin" }, "PermissionDenied"],
    ["an unknown id is refused", { type: "RevokeToken", id: "sha256:012345678901", by: "admin" }, "UnknownToken"],
    ["an id that is not one is refused naming the field", { type: "RevokeToken", id: "nope", by: "admin" }, "InvalidArgument"],
  ])("%s", (_name, command, expected) => {
    const setup: Command[] = [...tokens, { type: "IssueToken", kind: "readonly", hash: READONLY, by: "admin" }, { type: "IssueToken", kind: "join", hash: BOOTSTRAP, by: "admin", expiresAt: T0 + 1, keepOthers: true }];
    const { state, refused } = run([...setup, command]);
    expect(refused.at(-1)).toBe(expected);
    if (expected === undefined) expect(state.tokens.size).toBe(3);
  });
});
