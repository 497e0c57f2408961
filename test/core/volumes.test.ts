/**
 * Volumes: which nodes fit a copy's host volumes (and the reasons it waits), the refusals of bad
 * specs and bad agent declarations field by field, what a copy gets on its node, and the
 * variables it learns them by.
 */
import { describe, expect, test } from "bun:test";
import { replay } from "../../src/core/events/evolve.js";
import { describeRejection } from "../../src/core/model/rejections.js";
import { type FleetNode, SimulatedFleet } from "../../src/sim/simulated-fleet.js";
import { resolveSpec } from "../../src/core/model/spec.js";
import { validateWorkload } from "../../src/core/model/validate.js";
import { type HostVolume, mountsOf, validateHostVolumes, volumeEnvironment } from "../../src/core/model/volumes.js";
import { type Volume, VolumeType } from "../../src/gen/tessera/v1/types.js";
import { nodeConnected, spec, T0 } from "./fixtures.js";
import type { Command } from "../../src/core/decide/commands.js";

const host = (name: string, path = `/srv/${name}`, readOnly = false): HostVolume => ({ name, path, readOnly });
const node = (name: string, volumes?: HostVolume[]): FleetNode => ({ name, capacity: { cpuMillis: 64_000, memoryMb: 65_536 }, labels: {}, ...(volumes ? { volumes } : {}) });
const volume = (name: string, over: Partial<Volume> = {}): Volume => ({ name, type: VolumeType.VOLUME_TYPE_UNSPECIFIED, mountPath: "", readOnly: false, source: "", sizeMb: 0, ...over });
const apply = (name: string, replicas: number, volumes: Volume[]): Command => ({ type: "ApplyWorkload", name, labels: {}, spec: spec({ replicas, volumes }) });

function fleetOf(...nodes: FleetNode[]): SimulatedFleet {
  const fleet = new SimulatedFleet();
  for (const n of nodes) fleet.connect(n);
  fleet.turn();
  return fleet;
}

/** Each copy of a workload as `name@node`, or `name: reason` while it waits. */
function copies(fleet: SimulatedFleet, workload: string): string[] {
  return [...fleet.state.instances.values()]
    .filter((i) => i.workload === workload && i.desired === "run")
    .sort((a, b) => a.index - b.index)
    .map((i) => (i.node === null ? `${i.name}: ${i.reason}` : `${i.name}@${i.node}`));
}

describe("host volume feasibility", () => {
  test.each([
    ["a copy goes to the node that offers its host volume", [node("a"), node("b", [host("data")])], [volume("data")], ["w-0@b", "w-1@b"]],
    ["a node without the host volume is not feasible, with that reason", [node("a"), node("b", [host("logs")])], [volume("data")], ["w-0: no node fits (2 lacks host volume data)", "w-1: no node fits (2 lacks host volume data)"]],
    ["every host volume named is needed", [node("a", [host("data")]), node("b", [host("data"), host("logs")])], [volume("data"), volume("logs")], ["w-0@b", "w-1@b"]],
    ["a read-only host volume is not given to a copy that writes", [node("a", [host("data", "/srv/data", true)])], [volume("data")], ["w-0: no node fits (1 host volume data is read-only)", "w-1: no node fits (1 host volume data is read-only)"]],
    ["a read-only host volume is given to a copy that mounts it read_only", [node("a", [host("data", "/srv/data", true)])], [volume("data", { readOnly: true })], ["w-0@a", "w-1@a"]],
    ["a writable host volume serves a read-only mount too", [node("a", [host("data")])], [volume("data", { readOnly: true })], ["w-0@a", "w-1@a"]],
    ["a node from before host volumes offers none", [node("a")], [volume("data")], ["w-0: no node fits (1 lacks host volume data)", "w-1: no node fits (1 lacks host volume data)"]],
    ["Docker named volumes and tmpfs need nothing of a node", [node("a")], [volume("cache", { type: VolumeType.VOLUME_TYPE_VOLUME, source: "cache", mountPath: "/cache" }), volume("scratch", { type: VolumeType.VOLUME_TYPE_TMPFS, mountPath: "/scratch" })], ["w-0@a", "w-1@a"]],
  ] as const)("%s", (_what, nodes, volumes, expected) => {
    const fleet = fleetOf(...nodes);
    const image = volumes.some((v) => v.mountPath !== "");
    fleet.turn([{ type: "ApplyWorkload", name: "w", labels: {}, spec: spec({ replicas: 2, volumes: [...volumes], ...(image ? { image: "busybox", command: "" } : {}) }) }]);
    fleet.settle();
    expect(copies(fleet, "w")).toEqual([...expected]);
  });

  test("shapes that differ only in their volumes are judged apart in one pass (the fitsNowhere memo)", () => {
    const fleet = fleetOf(node("a", [host("data", "/srv/data", true)]));
    // Same executor, resources and selector: only the volumes tell the second from the first.
    const r = fleet.turn([apply("reader", 1, [volume("data", { readOnly: true })]), apply("writer", 1, [volume("data")]), apply("writer2", 1, [volume("data")]), apply("zplain", 1, [])]);
    expect(r.plan!.pend.map((p) => [p.workload, p.reason])).toEqual([
      ["writer", "no node fits (1 host volume data is read-only)"],
      ["writer2", "no node fits (1 host volume data is read-only)"],
    ]);
    expect(r.plan!.place.map((p) => p.workload)).toEqual(["reader", "zplain"]);
  });

  test("a waiting copy is placed once a node with the host volume joins", () => {
    const fleet = fleetOf(node("a"));
    fleet.turn([apply("w", 1, [volume("data")])]);
    fleet.settle();
    expect(copies(fleet, "w")).toEqual(["w-0: no node fits (1 lacks host volume data)"]);
    fleet.connect(node("b", [host("data")]));
    fleet.settle();
    expect(copies(fleet, "w")).toEqual(["w-0@b"]);
  });

  test("the start command carries the spec (whose volumes name host volumes), never a host path", () => {
    const fleet = fleetOf(node("a", [host("data", "/srv/secret-path")]));
    const r = fleet.turn([apply("w", 1, [volume("data")])]);
    const start = r.effects.find((e) => e.type === "StartInstance");
    expect(start).toBeDefined();
    expect(JSON.stringify(start)).not.toContain("/srv/secret-path");
  });
});

describe("a node's host volumes in the record", () => {
  test("NodeConnected keeps them; one without them (a log from before host volumes) offers none", () => {
    const state = replay([nodeConnected("a", T0, { volumes: [host("data")] }), nodeConnected("b", T0)]);
    expect(state.nodes.get("a")!.volumes).toEqual([host("data")]);
    expect(state.nodes.get("b")!.volumes).toEqual([]);
  });

  test("a reconnect replaces them with what the agent declares now", () => {
    const state = replay([nodeConnected("a", T0, { volumes: [host("data")] }), nodeConnected("a", T0 + 1, { volumes: [host("logs", "/var/log", true)] })]);
    expect(state.nodes.get("a")!.volumes).toEqual([host("logs", "/var/log", true)]);
  });
});

describe("spec.volumes validation", () => {
  const refusal = (volumes: Volume[], over: Parameters<typeof spec>[0] = {}) => validateWorkload({ name: "w", labels: {}, spec: spec({ volumes, ...over }) }).map(describeRejection);
  const image = { image: "busybox", command: "" };
  const field = "workload.spec.volumes";
  test.each<[string, Volume[], Parameters<typeof spec>[0], string]>([
    ["a name that is not a DNS label", [volume("Data")], {}, `${field}[0].name: expected a DNS label (lower-case letters, digits, '-'; at most 63 characters), got "Data"`],
    ["an empty name", [volume("")], {}, `${field}[0].name: expected a DNS label (lower-case letters, digits, '-'; at most 63 characters), got ""`],
    ["a name used twice", [volume("data"), volume("data")], {}, `${field}[1].name: expected a name not used by another volume, got "data" twice`],
    ["an unknown type", [volume("data", { type: 7 as VolumeType })], {}, `${field}[0].type: expected VOLUME_TYPE_HOST, VOLUME_TYPE_VOLUME or VOLUME_TYPE_TMPFS, got 7`],
    ["a Docker named volume for a process", [volume("cache", { type: VolumeType.VOLUME_TYPE_VOLUME, source: "cache" })], {}, `${field}[0].type: expected a host volume for a process workload (Docker named volumes are for containers: set spec.image)`],
    ["tmpfs for a process", [volume("scratch", { type: VolumeType.VOLUME_TYPE_TMPFS })], {}, `${field}[0].type: expected a host volume for a process workload (tmpfs are for containers: set spec.image)`],
    ["a mount path for a process", [volume("data", { mountPath: "/data" })], {}, `${field}[0].mount_path: expected no mount path for a process workload: it finds the volume at \${TESSERA_VOLUME_DATA} (set spec.image, or leave mount_path out)`],
    ["no mount path for a container", [volume("data")], image, `${field}[0].mount_path: expected the absolute path in the container to mount it at`],
    ["a relative mount path", [volume("data", { mountPath: "data" })], image, `${field}[0].mount_path: expected an absolute path, got "data"`],
    ["the container's root", [volume("data", { mountPath: "/" })], image, `${field}[0].mount_path: expected a path other than / (the container's root)`],
    ["a mount path with ..", [volume("data", { mountPath: "/data/../etc" })], image, `${field}[0].mount_path: expected a path without '.', '..' or empty segments (nor a trailing '/'), got "/data/../etc"`],
    ["a mount path with a trailing /", [volume("data", { mountPath: "/data/" })], image, `${field}[0].mount_path: expected a path without '.', '..' or empty segments (nor a trailing '/'), got "/data/"`],
    ["a mount path with NUL", [volume("data", { mountPath: "/da\0ta" })], image, `${field}[0].mount_path: expected an absolute path without NUL bytes`],
    ["one mount path twice", [volume("a", { mountPath: "/data" }), volume("b", { mountPath: "/data" })], image, `${field}[1].mount_path: expected a path not used by volumes[0], got "/data" again`],
    ["a host volume with a source", [volume("data", { mountPath: "/data", source: "/" })], image, `${field}[0].source: expected no source for a host volume (its name says which of the node's host volumes), got "/"`],
    ["tmpfs with a source", [volume("t", { type: VolumeType.VOLUME_TYPE_TMPFS, mountPath: "/t", source: "x" })], image, `${field}[0].source: expected no source for tmpfs, got "x"`],
    ["a Docker volume without a source", [volume("c", { type: VolumeType.VOLUME_TYPE_VOLUME, mountPath: "/c" })], image, `${field}[0].source: expected a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]+), not a path: host paths are mounted only as host volumes their agent declares, got ""`],
    ["a Docker volume sourced from / (the engine would bind-mount the host's root)", [volume("c", { type: VolumeType.VOLUME_TYPE_VOLUME, mountPath: "/c", source: "/" })], image, `${field}[0].source: expected a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]+), not a path: host paths are mounted only as host volumes their agent declares, got "/"`],
    ["a Docker volume sourced from the Docker socket", [volume("c", { type: VolumeType.VOLUME_TYPE_VOLUME, mountPath: "/c", source: "/var/run/docker.sock" })], image, `${field}[0].source: expected a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]+), not a path: host paths are mounted only as host volumes their agent declares, got "/var/run/docker.sock"`],
    ["a size for a host volume", [volume("data", { mountPath: "/data", sizeMb: 10 })], image, `${field}[0].size_mb: expected no size but for tmpfs, got 10`],
    ["a tmpfs larger than the copy's memory", [volume("t", { type: VolumeType.VOLUME_TYPE_TMPFS, mountPath: "/t", sizeMb: 65 })], image, `${field}[0].size_mb: expected at most the copy's memory (resources.memory_mb, 64), which tmpfs pages count against, got 65`],
    ["a reference to a volume the spec does not have", [volume("data")], { args: ["${TESSERA_VOLUME_LOGS}"] }, "workload.spec.args[0]: expected a variable a copy has (TESSERA_HOST_IP, TESSERA_INSTANCE, TESSERA_INSTANCE_ID, TESSERA_VOLUME_DATA, TESSERA_WORKLOAD), got ${TESSERA_VOLUME_LOGS}"],
  ])("refuses %s, naming the field", (_what, volumes, over, expected) => {
    expect(refusal(volumes, over)).toEqual([expected]);
  });

  test("accepts host volumes for processes, and host, Docker named and tmpfs volumes for images; ${TESSERA_VOLUME_<NAME>} may be used", () => {
    expect(refusal([volume("data"), volume("logs-in", { readOnly: true })], { args: ["--data=${TESSERA_VOLUME_DATA}", "${TESSERA_VOLUME_LOGS_IN}"] })).toEqual([]);
    expect(
      refusal(
        [
          volume("data", { type: VolumeType.VOLUME_TYPE_HOST, mountPath: "/data" }),
          volume("cache", { type: VolumeType.VOLUME_TYPE_VOLUME, source: "my_cache.v1", mountPath: "/var/cache" }),
          volume("scratch", { type: VolumeType.VOLUME_TYPE_TMPFS, mountPath: "/scratch", sizeMb: 128, readOnly: true }),
        ],
        { ...image, resources: { cpuMillis: 100, memoryMb: 128 } },
      ),
    ).toEqual([]);
  });

  test("tmpfs size defaults to the copy's memory", () => {
    const s = spec({ image: "busybox", command: "", resources: { cpuMillis: 100, memoryMb: 256 }, volumes: [volume("t", { type: VolumeType.VOLUME_TYPE_TMPFS, mountPath: "/t" })] });
    expect(resolveSpec(s).volumes).toEqual([{ name: "t", kind: "tmpfs", mountPath: "/t", readOnly: false, source: "", sizeMb: 256 }]);
  });

  test("a spec stored before volumes (no field at all) has none", () => {
    const { volumes: _none, ...old } = spec();
    expect(resolveSpec(old as ReturnType<typeof spec>).hostVolumes).toEqual([]);
    expect(validateWorkload({ name: "w", labels: {}, spec: old as ReturnType<typeof spec> })).toEqual([]);
  });
});

describe("host volume declarations (an agent's flags, its hello)", () => {
  test.each([
    ["a name that is not a DNS label", [host("Data")], 'hello.host_volumes[0].name: expected a DNS label (lower-case letters, digits, \'-\'; at most 63 characters), got "Data"'],
    ["a name declared twice", [host("data"), host("data", "/other")], 'hello.host_volumes[1].name: expected a name not used by another host volume, got "data" twice'],
    ["a relative path", [host("data", "srv/data")], 'hello.host_volumes[0].path: expected an absolute path, got "srv/data"'],
    ["an empty path", [host("data", "")], 'hello.host_volumes[0].path: expected an absolute path, got ""'],
  ] as const)("refuses %s", (_what, volumes, expected) => {
    const problem = validateHostVolumes([...volumes]);
    expect(problem && describeRejection(problem)).toBe(expected);
  });

  test("accepts distinct names with absolute paths, read-only or not", () => {
    expect(validateHostVolumes([host("data"), host("logs", "/var/log", true)])).toBeUndefined();
  });
});

describe("what a copy gets on its node", () => {
  const mounts = (volumes: Volume[], image = true) => resolveSpec(spec({ ...(image ? { image: "busybox", command: "" } : {}), volumes })).volumes;

  test.each([
    ["a host volume the agent does not declare", [volume("data", { mountPath: "/data" })], [host("logs")], "host volume data is not declared on node-a"],
    ["a read-only host volume a copy would write to", [volume("data", { mountPath: "/data" })], [host("data", "/srv/data", true)], "host volume data is read-only on node-a, and the copy does not mount it read_only"],
    ["a Docker volume whose source is a path (refused at apply; an agent does not trust that)", [volume("c", { type: VolumeType.VOLUME_TYPE_VOLUME, source: "/var/run/docker.sock", mountPath: "/c" })], [], 'volume c: "/var/run/docker.sock" is not a Docker volume name'],
  ] as const)("refuses %s", (_what, volumes, offered, problem) => {
    expect(mountsOf(mounts([...volumes]), [...offered], "node-a")).toEqual({ problem });
  });

  test("host volumes resolve to the agent's own paths; Docker named volumes and tmpfs pass as they are", () => {
    const resolved = mountsOf(
      mounts([
        volume("data", { mountPath: "/data", readOnly: true }),
        volume("cache", { type: VolumeType.VOLUME_TYPE_VOLUME, source: "cache", mountPath: "/cache" }),
        volume("scratch", { type: VolumeType.VOLUME_TYPE_TMPFS, mountPath: "/scratch", sizeMb: 16 }),
      ]),
      [host("data", "/srv/data", true)],
      "node-a",
    );
    expect(resolved).toEqual({
      mounts: [
        { name: "data", kind: "host", mountPath: "/data", readOnly: true, source: "/srv/data", sizeMb: 0 },
        { name: "cache", kind: "volume", mountPath: "/cache", readOnly: false, source: "cache", sizeMb: 0 },
        { name: "scratch", kind: "tmpfs", mountPath: "/scratch", readOnly: false, source: "", sizeMb: 16 },
      ],
    });
  });

  test("TESSERA_VOLUME_<NAME> is the host path for a process and the mount path in a container", () => {
    const offered = [host("app-data", "/srv/app")];
    const forProcess = mountsOf(mounts([volume("app-data")], false), offered, "node-a");
    const forContainer = mountsOf(mounts([volume("app-data", { mountPath: "/data" })]), offered, "node-a");
    if (!("mounts" in forProcess) || !("mounts" in forContainer)) throw new Error("expected mounts");
    expect(volumeEnvironment(forProcess.mounts, false)).toEqual({ TESSERA_VOLUME_APP_DATA: "/srv/app" });
    expect(volumeEnvironment(forContainer.mounts, true)).toEqual({ TESSERA_VOLUME_APP_DATA: "/data" });
  });
});
