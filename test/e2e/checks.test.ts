/**
 * Readiness checks through dist/tessera: a real HTTP server passes its http check and its
 * workload turns Ready, also one listening only on the address its copy was told; a check that
 * cannot pass keeps the copy Running but not Ready, with the check's error as its reason in
 * `get instances` and `history`, and `apply --wait` fails saying so.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { needTools } from "../system-packages/need.js";
import { E2E_TIMEOUT_MS, eventually, freeRange, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    // Dynamic ports from a range nothing else on this machine uses right now.
    const range = await freeRange(20);
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", join(h.dir, "agent"), "--port-range", `${range.from}-${range.to}`]);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

/** The copies these tests run are python3 http.server. */
const python = needTools("checks against a python3 http.server", ["python3"]);

test.skipIf(python.skip)("an HTTP server passing its readiness check makes the workload Ready", async () => {
  python.require();
  const port = await freePort();
  const file = join(h.dir, "web.json");
  writeFileSync(
    file,
    JSON.stringify({
      name: "web",
      spec: {
        command: "/usr/bin/env",
        args: ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1"],
        checks: [{ name: "http", http: { port, path: "/" }, interval: "0.2s", timeout: "1s" }],
      },
    }),
  );
  const res = await ctl("apply", "-f", file, "--wait", "--timeout", "20");
  expect(res.stderr).toBe("");
  expect(res.stdout).toContain("rollout complete");
  expect((await ctl("get", "workloads")).stdout).toMatch(/^web\s+1\/1\s+Running/m);
  const wide = (await ctl("get", "instances", "web", "-o", "wide")).stdout;
  expect(wide).toMatch(/web-0\s.*\byes\s+http$/m);
});

test("a check that cannot pass: Running but not Ready, and --wait says why", async () => {
  const port = await freePort();
  const file = join(h.dir, "closed.json");
  writeFileSync(
    file,
    JSON.stringify({
      name: "closed",
      spec: { command: "/bin/sleep", args: ["3600"], checks: [{ name: "tcp", tcp: { port }, interval: "0.2s" }] },
    }),
  );
  const res = await ctl("apply", "-f", file, "--wait", "--timeout", "3");
  expect(res.code).toBe(1);
  // Three failures in a row (the default threshold) settle the check failing, and say why: a
  // bare port number is tried on loopback, then at the node's advertised address.
  const why = `readiness check tcp failing: tcp 127\\.0\\.0\\.1:${port}: connection refused; tcp [\\d.]+:${port}: connection refused`;
  // Where the rollout stands, then the copy in the way and why.
  expect(res.stderr).toMatch(new RegExp(`rollout not complete after 3s \\(closed 0/1\\): closed progressing; closed-0 Running \\(${why}\\)`));
  expect((await ctl("get", "workloads")).stdout).toMatch(/^closed\s+0\/1\s+NotReady/m);
  expect((await ctl("get", "instances", "closed")).stdout).toMatch(new RegExp(`^closed-0\\s.*\\sRunning\\s.*\\s${why}$`, "m"));
  // Recorded once, not at every probe.
  const history = (await ctl("history", "closed")).stdout.split("\n").filter((l) => l.includes("InstanceCheckReported"));
  expect(history).toHaveLength(1);
  expect(history[0]).toMatch(new RegExp(`closed-0\\.\\d+ check ${why.slice("readiness check ".length)}$`));
  expect((await ctl("delete", "workload", "closed")).code).toBe(0);
});

test.skipIf(python.skip)("a copy listening on the address it was told (TESSERA_HOST_IP) is checked there and gets Ready", async () => {
  python.require();
  const file = join(h.dir, "bound.json");
  writeFileSync(
    file,
    JSON.stringify({
      name: "bound",
      spec: {
        command: "/usr/bin/env",
        args: ["python3", "-m", "http.server", "${TESSERA_PORT_WEB}", "--bind", "${TESSERA_HOST_IP}"],
        ports: [{ name: "web" }],
        checks: [{ name: "http", http: { portName: "web", path: "/" }, interval: "0.2s", timeout: "1s" }],
      },
    }),
  );
  const res = await ctl("apply", "-f", file, "--wait", "--timeout", "20");
  expect(res.stderr).toBe("");
  expect(res.stdout).toContain("rollout complete");
  expect((await ctl("get", "workloads")).stdout).toMatch(/^bound\s+1\/1\s+Running/m);
  expect((await ctl("delete", "workload", "bound")).code).toBe(0);
});

test("bad checks are refused with the field named", async () => {
  const file = join(h.dir, "bad.json");
  writeFileSync(file, JSON.stringify({ name: "bad", spec: { command: "/bin/sleep", checks: [{ name: "x", http: { port: 70000 } }] } }));
  const res = await ctl("apply", "-f", file);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain("workload.spec.checks[0].http.port: expected a port from 1 to 65535, got 70000");
});

test("a failing liveness check restarts the copy under its restart policy", async () => {
  const port = await freePort();
  const file = join(h.dir, "zombie.json");
  writeFileSync(
    file,
    JSON.stringify({
      name: "zombie",
      spec: {
        command: "/bin/sleep",
        args: ["3600"],
        restartPolicy: { initialBackoff: "0.2s" },
        checks: [{ name: "alive", role: "CHECK_ROLE_LIVENESS", tcp: { port }, interval: "0.2s", failureThreshold: 2 }],
      },
    }),
  );
  expect((await ctl("apply", "-f", file)).code).toBe(0);
  const history = await eventually("two liveness restarts", async () => {
    const out = (await ctl("history", "zombie")).stdout;
    return (out.match(/liveness check alive failed/g)?.length ?? 0) >= 2 ? out : undefined;
  });
  expect(history).toMatch(/InstanceTransitioned\s+zombie-0\.\d+ liveness check alive failed: /);
  const attempts = (await ctl("get", "instances", "zombie")).stdout.match(/zombie-0\.\d+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)/g) ?? [];
  expect(attempts.length).toBeGreaterThan(0);
  expect((await ctl("delete", "workload", "zombie")).code).toBe(0);
});

test.skipIf(python.skip)("a rollout whose new copies never get Ready is reported stalled, and rollout undo goes back", async () => {
  python.require();
  const port = await freePort();
  const closed = await freePort();
  const manifest = (check: object) =>
    JSON.stringify({
      name: "svc",
      spec: {
        command: "/usr/bin/env",
        args: ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1"],
        update: { maxSurge: 0, maxUnavailable: 1 },
        progressDeadline: "1s",
        checks: [{ name: "ready", interval: "0.2s", ...check }],
      },
    });
  const file = join(h.dir, "svc.json");
  writeFileSync(file, manifest({ http: { port } }));
  expect((await ctl("apply", "-f", file, "--wait", "--timeout", "20")).code).toBe(0);
  writeFileSync(file, manifest({ tcp: { port: closed } }));
  expect((await ctl("apply", "-f", file)).code).toBe(0);
  const stalled = await eventually("svc Stalled", async () => {
    const line = (await ctl("get", "workloads")).stdout.split("\n").find((l) => l.startsWith("svc "));
    return line?.match(/\bStalled\b/) ? line : undefined;
  });
  expect(stalled).toMatch(/^svc\s+0\/1\s+Stalled\s+2\s/);
  expect((await ctl("describe", "workload", "svc")).stdout).toContain("rollout stalled: svc-0: readiness checks not passing");
  const undo = await ctl("rollout", "undo", "svc");
  expect(undo.stdout).toBe("workload/svc rolled back (generation 3)\n");
  await eventually("svc Ready again", async () => ((await ctl("get", "workloads")).stdout.match(/^svc\s+1\/1\s+Running\s+3\s/m) ? true : undefined), 20_000);
  const spec = JSON.parse((await ctl("get", "workloads", "-o", "json")).stdout).workloads.find((w: { name: string }) => w.name === "svc").spec;
  expect(spec.checks[0].http.port).toBe(port);
  expect((await ctl("delete", "workload", "svc")).code).toBe(0);
});
