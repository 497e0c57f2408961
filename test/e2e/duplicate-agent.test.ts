/**
 * Two agents started with one node's identity (a copied data dir, a cloned machine): the second
 * is refused while the first's stream is alive, instead of the two taking turns kicking each
 * other off. (A second agent with a data dir of its own is refused at enrollment: the name is
 * enrolled already, node-identity.test.ts.)
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let control: Server;
let address = "";
const agent = (dir: string) => h.start(["agent", "--control", address, "--name", "node-x", "--simulated", "--data-dir", join(h.dir, dir)]);
const connections = () => control.logs.filter((l) => l.msg === "agent connected" && l.node === "node-x").length;

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ server: control, address } = await h.startControl());
  }),
);
afterAll(() => h.stop());

test("a second agent with a live node's name is refused, saying why; the first keeps its stream", async () => {
  const first = agent("first");
  await control.waitForLog((l) => l.msg === "agent connected" && l.node === "node-x");
  cpSync(join(h.dir, "first", "agent", "pki"), join(h.dir, "second", "agent", "pki"), { recursive: true });
  const second = agent("second");
  await second.waitForLog((l) => l.msg === "control plane stream lost; reconnecting" && /already has a live agent stream/.test(String(l.why)));
  // It keeps trying (the first may die); each try is refused while the first is heard.
  await eventually("three refusals of the second agent", () =>
    second.logs.filter((l) => /already has a live agent stream/.test(String(l.why))).length >= 3 ? true : undefined,
  );
  expect(connections()).toBe(1);
  expect(first.logs.filter((l) => l.msg === "control plane stream lost; reconnecting")).toEqual([]);

  // Once the first is gone, the name is free at once: its stream closed.
  first.proc.kill("SIGKILL");
  await eventually("the second agent connected", () => (connections() === 2 ? true : undefined));
  second.proc.kill("SIGTERM");
});
