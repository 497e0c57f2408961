/** `tessera ctl token`: replacing the admin or join token, creating read-only ones. */
import { Command, Option, UsageError } from "clipanion";
import { TokenKind } from "../../src/gen/tessera/v1/control_plane.js";
import type { Ctl } from "../client.js";
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
    description: "create a read-only token for dashboards and scripts (reads, watch, logs)",
    examples: [["A token for a dashboard", "tessera ctl token create --read-only"]],
  });
  readOnly = Option.Boolean("--read-only", false, { description: "required: the only kind that can be created" });

  async runWith(ctl: Ctl) {
    if (!this.readOnly) throw new UsageError("--read-only: required (admin and join tokens are rotated, not created)");
    this.out((await ctl.call(ctl.api.createToken, {})).token);
  }
}
