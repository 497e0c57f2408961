/**
 * Volumes through dist/tessera: an agent declares host volumes (--host-volume, one of them
 * read-only, one whose path is missing) and `describe node` lists them; a process copy writes to
 * its host volume and the file is on the host; copies naming a host volume the agent does not
 * declare, or writing to a read-only one, wait Pending with the reason; a declared path that does
 * not exist fails the copy saying so; manifests that try to mount a host path by themselves are
 * refused at apply, naming the field; README's example is accepted. With a Docker engine, a container gets its host volume
 * bind-mounted (the file it writes is on the host), a read-only one it cannot write, a Docker named
 * volume and a tmpfs of the size asked.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerSuite, ensureImage, IMAGE, sh } from "./docker-engine.js";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
/** Unique per run: containers are labelled with it, and other runs may share the engine. */
const NODE = `vol-${process.pid}`;
const DOCKER_VOLUME = `tessera-e2e-${process.pid}`;
const data = join(h.dir, "host", "data");
const conf = join(h.dir, "host", "conf");
const missing = join(h.dir, "host", "not-there");

interface JsonInstance {
  name: string;
  observedState: string;
  reason?: string;
}

async function instances(workload: string): Promise<JsonInstance[]> {
  const res = await ctl("get", "instances", workload, "-o", "json");
  expect(res.stderr).toBe("");
  return (JSON.parse(res.stdout) as { instances?: JsonInstance[] }).instances ?? [];
}

async function apply(body: object): Promise<{ code: number; stderr: string }> {
  const file = join(h.dir, `${(body as { name: string }).name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return ctl("apply", "-f", file);
}

const docker = dockerSuite("volumes with docker e2e");

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    mkdirSync(data, { recursive: true });
    mkdirSync(conf, { recursive: true });
    writeFileSync(join(conf, "settings"), "from the host\n");
    address = (await h.startControl()).address;
    if (docker.available) ensureImage();
    h.start([
      "agent",
      "--control", address,
      "--name", NODE,
      "--executor", docker.available ? "process,docker" : "process",
      "--data-dir", join(h.dir, "agent"),
      "--host-volume", `data=${data}`,
      "--host-volume", `conf=${conf}:ro`,
      "--host-volume", `gone=${missing}`,
    ]);
    await eventually(`${NODE} Ready`, async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(async () => {
  if (docker.available) {
    await ctl("delete", "workload", "boxed");
    await eventually("containers removed", () => (sh(["docker", "ps", "-a", "-q", "--filter", `label=tessera.node=${NODE}`]).out.trim() === "" ? true : undefined), 15_000).catch(() => {});
    sh(["docker", "volume", "rm", DOCKER_VOLUME]);
  }
  await h.stop();
});

test("describe node lists the host volumes the agent declares", async () => {
  const out = (await ctl("describe", "node", NODE)).stdout;
  expect(out).toContain(`Volumes:     data=${data},conf=${conf}:ro,gone=${missing}\n`);
  const json = JSON.parse((await ctl("describe", "node", NODE, "-o", "json")).stdout) as { node: { hostVolumes: unknown[] } };
  expect(json.node.hostVolumes).toEqual([
    { name: "data", path: data },
    { name: "conf", path: conf, readOnly: true },
    { name: "gone", path: missing },
  ]);
});

test("a process copy writes to its host volume, found at TESSERA_VOLUME_DATA: the file is on the host", async () => {
  expect((await apply({ name: "writer", spec: { command: "/bin/sh", args: ["-c", 'echo "hello from $TESSERA_INSTANCE" > "$TESSERA_VOLUME_DATA/from-process"; exec sleep 3600'], volumes: [{ name: "data" }] } })).stderr).toBe("");
  expect(await eventually("the file on the host", () => readFileSync(join(data, "from-process"), "utf8") || undefined, 15_000)).toBe("hello from writer-0\n");
  await ctl("delete", "workload", "writer");
});

test("a host volume the agent does not declare, or declares read-only to a copy that writes: Pending with the reason", async () => {
  expect((await apply({ name: "secrets", spec: { command: "/bin/sleep", args: ["3600"], volumes: [{ name: "secrets", readOnly: true }] } })).stderr).toBe("");
  expect((await apply({ name: "confwriter", spec: { command: "/bin/sleep", args: ["3600"], volumes: [{ name: "conf" }] } })).stderr).toBe("");
  const waiting = async (workload: string) => eventually(`${workload}-0 Pending with its reason`, async () => (await instances(workload)).find((i) => i.reason), 10_000);
  expect(await waiting("secrets")).toMatchObject({ observedState: "INSTANCE_STATE_PENDING", reason: "no node fits (1 lacks host volume secrets)" });
  expect(await waiting("confwriter")).toMatchObject({ observedState: "INSTANCE_STATE_PENDING", reason: "no node fits (1 host volume conf is read-only)" });
  // Mounted read-only, the same volume is given.
  expect((await apply({ name: "confwriter", spec: { command: "/bin/sleep", args: ["3600"], volumes: [{ name: "conf", readOnly: true }] } })).stderr).toBe("");
  await eventually("confwriter Running", async () => ((await ctl("get", "workloads")).stdout.match(/^confwriter\s+1\/1\s+Running/m) ? true : undefined), 15_000);
  for (const w of ["secrets", "confwriter"]) await ctl("delete", "workload", w);
});

test("a declared host volume whose path does not exist fails the copy, saying so", async () => {
  expect((await apply({ name: "lost", spec: { command: "/bin/sleep", args: ["3600"], volumes: [{ name: "gone" }], restartPolicy: { mode: "never" } } })).stderr).toBe("");
  const failed = await eventually("lost-0 Failed", async () => (await instances("lost")).find((i) => i.observedState === "INSTANCE_STATE_FAILED"), 15_000);
  expect(failed.reason).toBe(`host volume gone: ${missing} does not exist on ${NODE}`);
  await ctl("delete", "workload", "lost");
});

test.each([
  ["a Docker volume sourced from the host's root", { type: "volume", source: "/", mountPath: "/host" }, `workload.spec.volumes[0].source: expected a Docker volume name`],
  ["a Docker volume sourced from the Docker socket", { type: "volume", source: "/var/run/docker.sock", mountPath: "/var/run/docker.sock" }, `workload.spec.volumes[0].source: expected a Docker volume name`],
  ["a host volume given a source path", { name: "data", source: "/etc", mountPath: "/etc-host" }, "workload.spec.volumes[0].source: expected no source for a host volume"],
  ["a relative mount path", { name: "data", mountPath: "data" }, 'workload.spec.volumes[0].mount_path: expected an absolute path, got "data"'],
  ["the container's root as mount path", { name: "data", mountPath: "/" }, "workload.spec.volumes[0].mount_path: expected a path other than / (the container's root)"],
])("a manifest with %s is refused at apply, naming the field", async (_what, volume, expected) => {
  const res = await apply({ name: "sneaky", spec: { image: IMAGE, volumes: [{ name: "v", ...volume }] } });
  expect(res.code).toBe(2);
  expect(res.stderr).toContain(expected);
  expect((await ctl("get", "workloads")).stdout).not.toContain("sneaky");
});

/** The manifest of README's Volumes section, exactly as written there. */
function readmeManifest(): string {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  const after = readme.slice(readme.indexOf("## Volumes"));
  return after.slice(after.indexOf("```json") + "```json".length, after.indexOf("```", after.indexOf("```json") + 7));
}

test("README's volumes example is accepted as written; planned here, its copy would wait for a node declaring its host volumes", async () => {
  const file = join(h.dir, "readme-db.json");
  writeFileSync(file, readmeManifest());
  const res = await ctl("plan", "-f", file);
  expect(res.stderr).toBe("");
  expect(res.code).toBe(1);
  expect(res.stdout).toStartWith("workload/db: would change");
  // This node declares data but not certs (and, without an engine, runs no containers at all).
  expect(res.stdout).toContain(docker.available ? "no node fits (1 lacks host volume certs)" : "no node fits (1 no docker executor)");
});

describe.skipIf(docker.skip)("with docker", () => {
  test("a container gets its host volume bind-mounted (its file is on the host), a read-only one, a Docker named volume and a tmpfs", async () => {
    docker.require();
    const script = [
      'echo "hello from $TESSERA_INSTANCE at $TESSERA_VOLUME_DATA" > /data/from-container',
      "cat /proc/mounts > /data/mounts",
      "cat /conf/settings > /data/settings-seen",
      "(echo x > /conf/written) 2>/dev/null || echo refused > /data/conf-write",
      "echo kept > /cache/kept",
      "exec sleep 3600",
    ].join("; ");
    const res = await apply({
      name: "boxed",
      spec: {
        image: IMAGE,
        command: "/bin/sh",
        args: ["-c", script],
        resources: { cpuMillis: 100, memoryMb: 32 },
        stopGracePeriod: "1s",
        volumes: [
          { name: "data", mountPath: "/data" },
          { name: "conf", mountPath: "/conf", readOnly: true },
          { name: "cache", type: "volume", source: DOCKER_VOLUME, mountPath: "/cache" },
          { name: "scratch", type: "tmpfs", sizeMb: 8, mountPath: "/scratch" },
        ],
      },
    });
    expect(res.stderr).toBe("");
    expect(await eventually("the file on the host", () => readFileSync(join(data, "from-container"), "utf8") || undefined, 20_000)).toBe("hello from boxed-0 at /data\n");
    expect(await eventually("the refused write", () => readFileSync(join(data, "conf-write"), "utf8") || undefined, 5_000)).toBe("refused\n");
    expect(readFileSync(join(data, "settings-seen"), "utf8")).toBe("from the host\n");
    const mounts = readFileSync(join(data, "mounts"), "utf8").split("\n");
    const at = (path: string) => mounts.find((l) => l.split(" ")[1] === path)?.split(" ") ?? [];
    expect(at("/scratch")[2]).toBe("tmpfs");
    expect(at("/scratch")[3]).toContain("size=8192k");
    expect(at("/conf")[3]).toStartWith("ro,");
    expect(at("/data")[3]).toStartWith("rw,");
    const id = sh(["docker", "ps", "-q", "--filter", `label=tessera.node=${NODE}`, "--filter", "label=tessera.workload=boxed"]).out.trim();
    const inspected = JSON.parse(sh(["docker", "inspect", "--format", "{{json .Mounts}}", id]).out) as Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean }>;
    expect(inspected.map((m) => [m.Type, m.Type === "volume" ? m.Name : m.Source, m.Destination, m.RW]).sort()).toEqual(
      [
        ["bind", data, "/data", true],
        ["bind", conf, "/conf", false],
        ["volume", DOCKER_VOLUME, "/cache", true],
        ["tmpfs", "", "/scratch", true],
      ].sort(),
    );
  });
});
