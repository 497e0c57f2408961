/** `tessera ctl token`: replacing the admin or join token; creating, listing and revoking tokens. */
import { Command, Option, UsageError } from "clipanion";
import { TokenKind } from "../../src/gen/tessera/v1/control_plane.js";
import type { Ctl } from "../client.js";
import { parseDuration } from "../duration.js";
import { renderTable } from "../table.js";
import { CtlCommand } from "./ctl-command.js";

export class TokenRotateCommand extends CtlCommand {
  static paths = [["ctl", "token", "rotate"]];
  static usage = Command.Usage({
    category: "Security",
    description: "replace the admin or join token; the old one stops working at once",
    details: "Prints the new token once. The control plane keeps only its hash and rewrites the data dir's admin-token or join-token file.",
    examples: [
      ["New join token", "tessera ctl token rotate join"],
      ["New admin token", "tessera ctl token rotate admin"],
    ],
  });
  kind = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const kind = { admin: TokenKind.TOKEN_KIND_ADMIN, join: TokenKind.TOKEN_KIND_JOIN }[this.kind];
    if (kind === undefined) throw new UsageError(`kind: expected admin or join, got "${this.kind}"`);
    this.out((await ctl.call(ctl.api.rotateToken, { kind })).token);
  }
}

export class TokenCreateCommand extends CtlCommand {
  static paths = [["ctl", "token", "create"]];
  static usage = Command.Usage({
    category: "Security",
    description: "create a read-only token (reads, watch, logs) or a bootstrap join token with an expiry and a number of uses",
    details:
      "Prints the new token once, and its id on stderr (for `token revoke`). A join token created here stands beside the data dir's: it enrolls at most --uses nodes until --ttl has passed (24h when not given), and never a node name that is enrolled already (see `node approve`), but for an enrollment of it asked again with the key it was enrolled with (its answer was lost).",
    examples: [
      ["A token for a dashboard", "tessera ctl token create --read-only"],
      ["A read-only token for a day", "tessera ctl token create --read-only --ttl 24h"],
      ["A join token for three nodes, for an hour", "tessera ctl token create --kind join --ttl 1h --uses 3"],
    ],
  });
  readOnly = Option.Boolean("--read-only", false, { description: "a read-only token (the same as --kind readonly)" });
  kind = Option.String("--kind", { description: "readonly or join" });
  ttl = Option.String("--ttl", { description: "how long it works (e.g. 1h, 7d); default: no expiry for read-only, 24h for join" });
  uses = Option.String("--uses", { description: "join tokens: how many nodes it may enroll (default: any number until it expires)" });

  async runWith(ctl: Ctl) {
    const kind = this.readOnly ? "readonly" : this.kind;
    const wire = kind === undefined ? undefined : { readonly: TokenKind.TOKEN_KIND_READONLY, join: TokenKind.TOKEN_KIND_JOIN }[kind];
    if (wire === undefined) throw new UsageError(kind === undefined ? "--kind: expected readonly or join (or --read-only)" : `--kind: expected readonly or join, got "${kind}" (the admin token is rotated: tessera ctl token rotate admin)`);
    if (this.readOnly && this.kind !== undefined && this.kind !== "readonly") throw new UsageError(`--read-only and --kind ${this.kind}: give one kind`);
    const ttlMs = this.ttl === undefined ? 0 : parseDuration(this.ttl, "--ttl");
    if (this.ttl !== undefined && ttlMs <= 0) throw new UsageError(`--ttl: expected a duration above zero, got "${this.ttl}"`);
    const uses = this.uses === undefined ? 0 : Number(this.uses);
    if (this.uses !== undefined && !(Number.isInteger(uses) && uses > 0)) throw new UsageError(`--uses: expected a whole number above zero, got "${this.uses}"`);
    if (this.uses !== undefined && wire !== TokenKind.TOKEN_KIND_JOIN) throw new UsageError("--uses: only for --kind join (it counts enrollments)");
    const res = await ctl.call(ctl.api.createToken, { kind: wire, ttlMs, uses });
    this.out(res.token);
    this.context.stderr.write(`token ${res.id} created\n`);
  }
}

const KIND_NAMES: Partial<Record<TokenKind, string>> = { [TokenKind.TOKEN_KIND_ADMIN]: "admin", [TokenKind.TOKEN_KIND_JOIN]: "join", [TokenKind.TOKEN_KIND_READONLY]: "readonly" };

export class TokenListCommand extends CtlCommand {
  static paths = [["ctl", "token", "list"]];
  static usage = Command.Usage({
    category: "Security",
    description: "list the active tokens: id, kind, when created, when they expire, uses left (never a secret)",
    examples: [["List", "tessera ctl token list"]],
  });

  async runWith(ctl: Ctl) {
    const { tokens } = await ctl.call(ctl.api.listTokens, {});
    const now = Date.now();
    const expiry = (at: Date | undefined) => (at === undefined ? "never" : at.getTime() <= now ? `expired ${at.toISOString()}` : at.toISOString());
    const rows = tokens.map((t) => [t.id, KIND_NAMES[t.kind] ?? String(t.kind), t.created?.toISOString() ?? "", expiry(t.expires), t.usesLeft === undefined ? "-" : String(t.usesLeft)]);
    this.out(renderTable(["ID", "KIND", "CREATED", "EXPIRES", "USES-LEFT"], rows));
  }
}

export class TokenRevokeCommand extends CtlCommand {
  static paths = [["ctl", "token", "revoke"]];
  static usage = Command.Usage({
    category: "Security",
    description: "revoke a created token by its id: it stops working at once and its open watches, logs and execs end",
    details: "The data dir's admin and join tokens are replaced with `token rotate` instead.",
    examples: [["Revoke a token", "tessera ctl token revoke sha256:0123456789ab"]],
  });
  id = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.revokeToken, { id: this.id });
    this.out(`token ${this.id} revoked`);
  }
}
