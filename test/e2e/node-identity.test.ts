/**
 * Node identity and token lifetimes through the binary (#27): the join token cannot take over
 * an enrolled node, whether its agent is connected or gone; the node's own certificate still
 * connects; a removed node's certificate no longer does; an approved re-enrollment works; an
 * enrollment whose answer was lost is asked again with the same key and certified again; join
 * tokens expire and run out of uses; a revoked token's open stream ends.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClientReadableStream, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { generateNodeKey } from "../../src/agent/credentials.js";
import { EnrollmentClient } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient, type WatchResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { CHANNEL_OPTIONS } from "../../src/shell/control-channel.js";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS * 2);

const h = new Harness();
let control: Server;
let address = "";
const agent = (name: string, dir: string, env: Record<string, string> = {}, extra: string[] = []) =>
  h.start(["agent", "--control", address, "--name", name, "--simulated", "--data-dir", join(h.dir, dir), ...extra], env);
const connections = (node: string) => control.logs.filter((l) => l.msg === "agent connected" && l.node === node).length;
const ctl = async (...args: string[]) => {
  const r = await h.run(["ctl", "--control", address, ...args]);
  if (r.code !== 0) throw new Error(`tessera ctl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
};
/** An agent that exits, refused: its exit code and what it said. */
const refusedAgent = async (s: Server) => {
  const code = await s.proc.exited;
  return { code, said: s.logs.map((l) => JSON.stringify(l)).join("\n") };
};

/** A Watch of every workload under `token`, once it streams: `ended` is the error that ends it. */
const watchWith = async (token: string) => {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  const ca = readFileSync(join(h.dir, "control", "pki", "ca.pem"));
  const client = new ControlPlaneClient(address, credentials.createSsl(ca), CHANNEL_OPTIONS);
  const watch: ClientReadableStream<WatchResponse> = client.watch({ afterSequence: 0, workload: "" }, md);
  const ended = new Promise<ServiceError>((resolve) => watch.on("error", resolve));
  let events = 0;
  watch.on("data", () => events++);
  await eventually("the watch streams", () => (events > 0 ? true : undefined));
  return { client, ended };
};

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ server: control, address } = await h.startControl());
  }),
);
afterAll(() => h.stop());

test("the join token cannot take over an enrolled node, connected or gone; its own certificate still connects", async () => {
  const real = agent("n1", "real");
  await control.waitForLog((l) => l.msg === "agent connected" && l.node === "n1");

  // While the real node is connected.
  const live = await refusedAgent(agent("n1", "impostor-1"));
  expect(live.code).not.toBe(0);
  expect(live.said).toContain("node n1 is enrolled already");

  // After it is gone: the name is still its.
  real.proc.kill("SIGTERM");
  await real.proc.exited;
  await control.waitForLog((l) => l.msg === "agent disconnected" && l.node === "n1");
  const gone = await refusedAgent(agent("n1", "impostor-2"));
  expect(gone.said).toContain("node n1 is enrolled already");
  expect(connections("n1")).toBe(1);

  // The real agent restarting with its own certificate connects.
  agent("n1", "real");
  await eventually("the real agent is back", () => (connections("n1") === 2 ? true : undefined));
});

/** Enrolls `node` with the data dir's join token, as an agent does; resolves with the status code (0: certified). */
const enroll = (node: string, publicKeyPem: string) => {
  const md = new Metadata();
  md.set("authorization", `Bearer ${readFileSync(join(h.dir, "control", "join-token"), "utf8").trim()}`);
  const client = new EnrollmentClient(address, credentials.createSsl(readFileSync(join(h.dir, "control", "pki", "ca.pem"))), CHANNEL_OPTIONS);
  return new Promise<number>((resolve) => client.enroll({ node, publicKeyPem }, md, (err) => resolve(err?.code ?? 0))).finally(() => client.close());
};

test("an enrollment whose answer was lost is asked again with the same key and connects; another key is still refused", async () => {
  // The agent keeps the key it enrolls with in its data dir before asking; the answer to its
  // first enrollment never reaches it (here: the test asks, and drops the answer).
  const dir = join(h.dir, "lost-answer");
  mkdirSync(dir, { mode: 0o700 });
  mkdirSync(join(dir, "agent", "pki"), { recursive: true, mode: 0o700 });
  const key = await generateNodeKey();
  writeFileSync(join(dir, "agent", "pki", "n5.key"), key.keyPem, { mode: 0o600 });
  expect(await enroll("n5", key.publicKeyPem)).toBe(0);
  expect(await enroll("n5", (await generateNodeKey()).publicKeyPem)).toBe(status.PERMISSION_DENIED);

  agent("n5", "lost-answer");
  await eventually("n5 connected with the certificate issued again", () => (connections("n5") === 1 ? true : undefined));
});

test("a removed node's certificate no longer connects; an approved re-enrollment does", async () => {
  expect(await ctl("node", "remove", "n1")).toBe("node/n1 removed: its certificates are refused");
  // Its open stream is closed, and its agent's reconnect with the same certificate refused.
  await control.waitForLog((l) => l.msg === "node n1 was removed; closing its stream");
  await control.waitForLog((l) => l.msg === "agent stream refused" && /node n1 was removed/.test(String(l.details)));
  const again = await refusedAgent(agent("n1", "impostor-3"));
  expect(again.said).toContain("node n1 is enrolled already");
  expect(connections("n1")).toBe(2);

  await ctl("node", "approve", "n1");
  agent("n1", "replacement");
  await eventually("the approved replacement connected", () => (connections("n1") === 3 ? true : undefined));
  // The approval was for one enrollment.
  const after = await refusedAgent(agent("n1", "impostor-4"));
  expect(after.said).toContain("node n1 is enrolled already");
});

test("a bootstrap join token enrolls as many nodes as its uses, until it expires", async () => {
  const twice = await ctl("token", "create", "--kind", "join", "--ttl", "1h", "--uses", "1");
  agent("n2", "n2", {}, ["--join-token", twice]);
  await eventually("n2 connected", () => (connections("n2") === 1 ? true : undefined));
  const usedUp = await refusedAgent(agent("n3", "n3", {}, ["--join-token", twice]));
  expect(usedUp.said).toContain("the join token is not valid");

  const brief = await ctl("token", "create", "--kind", "join", "--ttl", "1s");
  await eventually("the brief token expired", async () => ((await ctl("token", "list")).includes("expired") ? true : undefined), 5_000);
  const expired = await refusedAgent(agent("n4", "n4", {}, ["--join-token", brief]));
  expect(expired.said).toContain("the join token is not valid");
  const list = await ctl("token", "list");
  expect(list).toMatch(/^ID\s+KIND\s+CREATED\s+EXPIRES\s+USES-LEFT/);
  expect(list).toMatch(/sha256:[0-9a-f]{12}\s+join\s+\S+\s+\S+\s+0$/m);
  expect(list).not.toContain(twice);
});

test("a revoked read-only token's open Watch ends UNAUTHENTICATED, and the token is refused", async () => {
  const created = await h.run(["ctl", "--control", address, "token", "create", "--read-only"]);
  const token = created.stdout.trim();
  const id = /token (sha256:[0-9a-f]{12}) created/.exec(created.stderr)?.[1];
  expect(id).toBeDefined();
  const { client, ended } = await watchWith(token);
  expect(await ctl("token", "revoke", id!)).toBe(`token ${id} revoked`);
  const err = await ended;
  expect(err.code).toBe(status.UNAUTHENTICATED);
  expect(err.details).toContain("revoked");
  const refused = await h.run(["ctl", "--control", address, "--token", token, "get", "nodes"]);
  expect(refused.code).not.toBe(0);
  client.close();
});

test("rotating the admin token ends the open streams of the one it replaced", async () => {
  const before = readFileSync(join(h.dir, "control", "admin-token"), "utf8").trim();
  const { client, ended } = await watchWith(before);
  const after = await ctl("token", "rotate", "admin");
  expect(after).not.toBe(before);
  const err = await ended;
  expect(err.code).toBe(status.UNAUTHENTICATED);
  client.close();
});
