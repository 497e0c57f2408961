/**
 * The ControlPlane API end to end through dist/tessera: watch (resumable), logs proxied from
 * the agent, plan's exit codes, rollout restart, history, cordon and drain (and what a drain
 * that runs out of time says holds the node).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ControlPlaneClient, type WatchResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { adminChannel, E2E_TIMEOUT_MS, eventually, Harness, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
let control: Server;
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
const manifest = (name: string, body: object) => {
  writeFileSync(join(h.dir, `${name}.json`), JSON.stringify(body));
  return `${name}.json`;
};

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ address, server: control } = await h.startControl());
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", join(h.dir, "agent-a")]);
    h.start(["agent", "--control", address, "--name", "node-b", "--simulated", "--label", "zone=b"]);
    await eventually("both nodes Ready", async () => ((await ctl("get", "nodes")).stdout.match(/Ready/g)?.length === 2 ? true : undefined));
  }),
);
afterAll(() => h.stop());

/** Collects Watch events after a sequence until `count` arrived. */
function watch(after: number, count: number): Promise<WatchResponse[]> {
  const client = new ControlPlaneClient(address, adminChannel(join(h.dir, "control")).creds, adminChannel(join(h.dir, "control")).options);
  const got: WatchResponse[] = [];
  return new Promise((resolve, reject) => {
    const call = client.watch({ afterSequence: after, workload: "" });
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} events`)), 10_000);
    call.on("data", (e: WatchResponse) => {
      got.push(e);
      if (got.length === count) {
        clearTimeout(timer);
        call.cancel();
        client.close();
        resolve(got);
      }
    });
    call.on("error", () => {});
  });
}

describe("control plane API", () => {
  test("plan exits 1 for a change and 0 for none; nothing is applied by plan", async () => {
    const file = manifest("p", { name: "planned", spec: { command: "/bin/sleep", args: ["3600"], nodeSelector: { zone: "b" } } });
    const before = await ctl("plan", "-f", file);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain("would change (generation 1)");
    expect((await ctl("get", "workloads")).stdout).not.toContain("planned");
    expect((await ctl("plan", "-f", file, "-o", "json")).stdout.split("\n")[1]).toContain('"action":"place"');
    expect((await ctl("apply", "-f", file)).code).toBe(0);
    await eventually("planned Running", async () => ((await ctl("get", "workloads")).stdout.match(/^planned\s+1\/1\s+Running/m) ? true : undefined));
    const after = await ctl("plan", "-f", file);
    expect(after.stdout).toContain("unchanged");
    expect(after.code).toBe(0);
    expect((await ctl("plan", "-f", "missing.json")).code).toBe(255);
  });

  test("watch streams committed events and resumes after a sequence number", async () => {
    const first = await watch(0, 3);
    expect(first.map((e) => e.event!.sequence)).toEqual([1, 2, 3]);
    const resumed = await watch(2, 1);
    expect(resumed[0]!.event!.sequence).toBe(3);
    expect(resumed[0]!.event).toEqual(first[2]!.event);
  });

  test("logs: every replica interleaved with a prefix, or one instance, with --tail", async () => {
    const file = manifest("talk", { name: "talk", spec: { command: "/bin/sh", args: ["-c", "for i in 1 2 3; do echo $TESSERA_INSTANCE says $i; done; sleep 3600"], replicas: 2, nodeSelector: {} } });
    // Pin to the process node: node-b is simulated and prints nothing.
    expect((await ctl("cordon", "node-b")).code).toBe(0);
    expect((await ctl("apply", "-f", file)).code).toBe(0);
    const all = await eventually("both replicas' output", async () => {
      const out = (await ctl("logs", "talk")).stdout;
      return out.includes("talk-0 | talk-0 says 3") && out.includes("talk-1 | talk-1 says 3") ? out : undefined;
    });
    expect(all.split("\n").filter(Boolean)).toHaveLength(6);
    const one = await ctl("logs", "talk", "--instance", "talk-1", "--tail", "1");
    expect(one.stdout).toBe("talk-1 says 3\n");
    const unknown = await ctl("logs", "talk", "--instance", "talk-9");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('instance "talk-9" of workload "talk" not found');
    expect((await ctl("uncordon", "node-b")).code).toBe(0);
  });

  test("rollout restart replaces every instance under the budget; history shows it", async () => {
    const ids = async () => (await ctl("get", "instances", "planned")).stdout.match(/planned-0\.\d+/g) ?? [];
    const [before] = await ids();
    expect((await ctl("rollout", "restart", "planned")).code).toBe(0);
    // The old copy goes once its replacement has run for min_healthy_time (10 s without checks).
    const after = await eventually(
      "a new Running instance",
      async () => {
        const out = (await ctl("get", "instances", "planned")).stdout;
        const running = out.split("\n").filter((l) => /\bRunning\b/.test(l));
        return running.length === 1 && !running[0]!.includes(before!) ? running[0] : undefined;
      },
      20_000,
    );
    expect(after).toMatch(/planned-0\.\d+/);
    const history = (await ctl("history", "planned")).stdout;
    expect(history).toContain("WorkloadRestartRequested");
    expect(history).toContain(before!);
  });

  test("drain moves instances off a node and waits until it is empty; cordon shows in get nodes", async () => {
    // "planned" is pinned to zone b: it could not leave node-b.
    expect((await ctl("delete", "workload", "planned")).code).toBe(0);
    const spread = manifest("spread", { name: "spread", spec: { command: "/bin/sleep", args: ["3600"], replicas: 4 } });
    expect((await ctl("apply", "-f", spread)).code).toBe(0);
    await eventually("spread on both nodes", async () => {
      const out = (await ctl("get", "instances", "spread")).stdout;
      return out.includes("node-a") && out.includes("node-b") && (out.match(/Running/g)?.length ?? 0) === 4 ? true : undefined;
    });
    const drained = await ctl("drain", "node-b", "--timeout", "20");
    expect(drained.stdout).toContain("node/node-b drained");
    expect(drained.code).toBe(0);
    expect((await ctl("get", "nodes")).stdout).toMatch(/node-b\s+Ready,Draining/);
    const out = (await ctl("get", "instances", "spread")).stdout;
    expect(out.split("\n").filter((l) => /\bRunning\b/.test(l) && l.includes("node-a"))).toHaveLength(4);
    expect((await ctl("uncordon", "node-b")).code).toBe(0);
    expect((await ctl("get", "nodes")).stdout).toMatch(/node-b\s+Ready\s/);
  });

  test("a drain that times out names each copy still there and why it cannot move, and goes on", async () => {
    // Pinned to zone b, which only node-b offers: its replacement has nowhere to go.
    const pinned = manifest("pinned", { name: "pinned", spec: { command: "/bin/sleep", args: ["3600"], nodeSelector: { zone: "b" } } });
    expect((await ctl("apply", "-f", pinned, "--wait", "--timeout", "20")).code).toBe(0);
    const held = (JSON.parse((await ctl("get", "instances", "pinned", "-o", "json")).stdout) as { instances: Array<{ id: string }> }).instances[0]!.id;
    const drain = await ctl("drain", "node-b", "--timeout", "1s");
    expect(drain.code).toBe(1);
    expect(drain.stderr).toContain("error: node node-b still holds 1 instance(s) after 1s; the drain goes on (no new copies go there, each one moves as soon as it can; `tessera ctl uncordon node-b` ends it):\n");
    expect(drain.stderr).toMatch(new RegExp(`\\n  ${held.replace(".", "\\.")} \\(Running\\): its replacement pinned-0\\.\\d+ is Pending: no node fits \\(1 draining, 1 lacks label zone=b\\)\\n$`));
    // The drain goes on: node-b stays draining, the replacement waits.
    expect((await ctl("get", "nodes")).stdout).toMatch(/node-b\s+Ready,Draining/);
    expect((await ctl("uncordon", "node-b")).code).toBe(0);
    expect((await ctl("delete", "workload", "pinned")).code).toBe(0);
  });

  test("unknown names are refused with NOT_FOUND", async () => {
    const res = await ctl("cordon", "node-z");
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('error: NOT_FOUND: node "node-z" not found\n');
  });
});

describe("observability", () => {
  test("/metrics, /healthz and /readyz on the HTTP listener", async () => {
    const http = String((await control.waitForLog((l) => l.msg === "http listening")).address);
    expect((await fetch(`http://${http}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://${http}/readyz`);
    expect([ready.status, await ready.text()]).toEqual([200, "ready\n"]);
    const metrics = await (await fetch(`http://${http}/metrics`)).text();
    expect(metrics).toMatch(/^tessera_nodes\{health="ready"\} 2$/m);
    expect(metrics).toMatch(/^tessera_instances\{state="running"\} \d+$/m);
    expect(metrics).toMatch(/^tessera_placements_total \d+$/m);
    expect(metrics).toMatch(/^tessera_reconcile_duration_seconds_count \d+$/m);
    expect(metrics).toMatch(/^tessera_rpc_duration_seconds_count\{method="ApplyWorkloads",code="OK"\} \d+$/m);
    expect(metrics).toMatch(/^tessera_store_commit_duration_seconds_count \d+$/m);
    // Two nodes beat every second, with the default thresholds (#33).
    expect(metrics).toMatch(/^tessera_heartbeat_interval_seconds 1$/m);
    expect(metrics).toMatch(/^tessera_node_offline_after_seconds 5$/m);
    expect((await fetch(`http://${http}/nope`)).status).toBe(404);
  });
});

describe("standard gRPC tooling", () => {
  test("grpc.health.v1 answers SERVING for the server and both services", async () => {
    const { service } = await import("grpc-health-check");
    const { makeGenericClientConstructor } = await import("@grpc/grpc-js");
    const Health = makeGenericClientConstructor(service, "Health");
    const client = new Health(address, adminChannel(join(h.dir, "control")).creds, adminChannel(join(h.dir, "control")).options) as unknown as {
      check(req: { service: string }, cb: (err: Error | null, res: { status: string }) => void): void;
      close(): void;
    };
    for (const name of ["", "tessera.v1.ControlPlane", "tessera.v1.AgentGateway"]) {
      const res = await new Promise<{ status: string }>((resolve, reject) => client.check({ service: name }, (err, r) => (err ? reject(err) : resolve(r))));
      expect(res.status).toBe("SERVING");
    }
    client.close();
  });

  test("server reflection lists the services and serves their descriptors", async () => {
    const { loadSync } = await import("@grpc/proto-loader");
    const { loadPackageDefinition } = await import("@grpc/grpc-js");
    const def = loadSync(join(import.meta.dir, "..", "..", "node_modules", "@grpc", "reflection", "build", "proto", "grpc", "reflection", "v1", "reflection.proto"));
    const pkg = loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (a: string, c: unknown, o: unknown) => { serverReflectionInfo(): NodeJS.EventEmitter & { write(m: unknown): void; end(): void }; close(): void } } } };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(address, adminChannel(join(h.dir, "control")).creds, adminChannel(join(h.dir, "control")).options);
    const call = client.serverReflectionInfo();
    const answers: Array<Record<string, unknown>> = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (m: Record<string, unknown>) => {
        answers.push(m);
        if (answers.length === 2) call.end();
      });
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({ listServices: "" });
    call.write({ fileContainingSymbol: "tessera.v1.ControlPlane" });
    await done;
    client.close();
    const services = (answers[0]!.listServicesResponse as { service: Array<{ name: string }> }).service.map((s) => s.name);
    expect(services).toEqual(expect.arrayContaining(["tessera.v1.ControlPlane", "tessera.v1.AgentGateway"]));
    const files = (answers[1]!.fileDescriptorResponse as { fileDescriptorProto: unknown[] }).fileDescriptorProto;
    expect(files.length).toBeGreaterThan(0);
  });
});
