/**
 * Tokens are issued through the single writer: each leaves a TokenIssued event naming its kind
 * and who asked (by the fingerprint of the caller's token), never the secret; rotation revokes
 * the earlier token of its kind, and a restart keeps exactly the active ones.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { fingerprint } from "../../src/control/security/tokens.js";
import { type RunningControlPlane, startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { ControlPlaneClient, TokenKind, type WatchResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };
const dir = mkdtempSync(join(tmpdir(), "tessera-tokens-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function client(cp: RunningControlPlane, token: string): ControlPlaneClient {
  const creds = credentials.combineChannelCredentials(
    credentials.createSsl(readFileSync(join(dir, "pki", "ca.pem"))),
    credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new Metadata();
      md.set("authorization", `Bearer ${token}`);
      cb(null, md);
    }),
  );
  return new ControlPlaneClient(cp.address, creds, CHANNEL_OPTIONS);
}

const listCode = (c: ControlPlaneClient) => new Promise<status>((r) => c.listNodes({ pageSize: 0, pageToken: "" }, (e) => r(e ? (e as { code: status }).code : status.OK)));

/** Logged events from the log's beginning, until `count` of type `type` were seen. */
function eventsUntil(c: ControlPlaneClient, type: string, count: number): Promise<Array<{ type: string; detail: string }>> {
  return new Promise((resolve, reject) => {
    const seen: Array<{ type: string; detail: string }> = [];
    const call = c.watch({ afterSequence: 0, workload: "" });
    call.on("data", (r: WatchResponse) => {
      if (!r.event) return;
      seen.push({ type: r.event.type, detail: r.event.detail });
      if (seen.filter((e) => e.type === type).length === count) {
        call.cancel();
        resolve(seen);
      }
    });
    call.on("error", (e: { code: status }) => (e.code === status.CANCELLED ? undefined : reject(e)));
  });
}

test("rotating the admin token is a recorded decision: who, which kind, never the secret; a restart keeps what is active", async () => {
  let cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200 });
  const first = readFileSync(join(dir, "admin-token"), "utf8").trim();
  const c1 = client(cp, first);
  const second = await new Promise<string>((r, j) => c1.rotateToken({ kind: TokenKind.TOKEN_KIND_ADMIN }, (e, res) => (e ? j(e) : r(res.token))));
  c1.close();
  const c2 = client(cp, second);
  // The first start issued an admin and a join token; then the rotation.
  const all = await eventsUntil(c2, "TokenIssued", 3);
  const issued = all.filter((e) => e.type === "TokenIssued").map((e) => JSON.parse(e.detail) as { kind: string; by: string; hash: string });
  expect(issued.map((e) => e.kind)).toEqual(["admin", "join", "admin"]);
  expect(issued[2]!.by).toBe(`the holder of token ${fingerprint(first)}`);
  for (const e of all) {
    expect(e.detail).not.toContain(first);
    expect(e.detail).not.toContain(second);
  }
  expect(await listCode(c2)).toBe(status.OK);
  c2.close();

  await cp.stop();
  cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log: silent, tickMs: 200 });
  const [old, current] = [client(cp, first), client(cp, second)];
  expect(await listCode(old)).toBe(status.UNAUTHENTICATED);
  expect(await listCode(current)).toBe(status.OK);
  old.close();
  current.close();
  await cp.stop();
});
