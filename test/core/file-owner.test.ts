/** Who a container's secret files belong to (core/model/file-owner.ts): its image's numeric USER. */
import { expect, test } from "bun:test";
import { fileOwnerOf } from "../../src/core/model/file-owner.js";

test.each([
  ["1000", { uid: 1000 }],
  ["1000:2000", { uid: 1000, gid: 2000 }],
  [" 65534 ", { uid: 65534 }],
  ["", undefined],
  ["0", undefined],
  ["0:0", undefined],
  ["nginx", undefined],
  ["1000:staff", undefined],
  ["-1", undefined],
  ["99999999999", undefined],
])("USER %p owns the files as %p", (user, owner) => {
  expect(fileOwnerOf(user)).toEqual(owner);
});
