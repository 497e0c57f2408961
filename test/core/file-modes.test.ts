/** Data dirs and secret files: only their owner may read or write them; a refusal names the fix. */
import { expect, test } from "bun:test";
import { looseMode } from "../../src/core/access/file-modes.js";

test.each([
  [0o40700, "dir"],
  [0o40500, "dir"],
  [0o100600, "file"],
  [0o100400, "file"],
] as const)("mode %o of a %s is kept", (mode, kind) => {
  expect(looseMode("/p", mode, kind)).toBeUndefined();
});

test.each([
  [0o40755, "dir", "/p: other users can read it (mode 0755); only its owner may: chmod 700 /p"],
  [0o40770, "dir", "/p: its group can write it (mode 0770); only its owner may: chmod 700 /p"],
  [0o40711, "dir", "/p: other users can enter it (mode 0711); only its owner may: chmod 700 /p"],
  [0o100644, "file", "/p: other users can read it (mode 0644); only its owner may: chmod 600 /p"],
  [0o100640, "file", "/p: its group can read it (mode 0640); only its owner may: chmod 600 /p"],
  [0o100666, "file", "/p: other users can write it (mode 0666); only its owner may: chmod 600 /p"],
] as const)("mode %o of a %s is refused", (mode, kind, why) => {
  expect(looseMode("/p", mode, kind)).toBe(why);
});
