/**
 * Volumes: what a spec asks for, what a node offers (its agent's host volumes), and what a copy
 * gets on its node. PURE, shared by the control plane (validation, placement) and the agent
 * (which resolves names to its own paths and mounts them).
 *
 * A spec names host volumes; only an agent says where they are. So a manifest can mount nothing
 * of a host but what its agent declares: not `/`, not the Docker socket.
 */
import type { Volume, VolumeType } from "../../gen/tessera/v1/types.js";
import { envName } from "./port-env.js";
import { invalidArgument, type Rejection } from "./rejections.js";
import { isDnsLabel } from "./dns-label.js";

/** A directory an agent offers to copies on its node (--host-volume NAME=PATH[:ro]). */
export interface HostVolume {
  name: string;
  /** Absolute, on the node. */
  path: string;
  readOnly: boolean;
}

export type VolumeKind = "host" | "volume" | "tmpfs";

/** One entry of `spec.volumes`, defaults applied. */
export interface VolumeMount {
  name: string;
  kind: VolumeKind;
  /** Where a container sees it; "" for processes. */
  mountPath: string;
  readOnly: boolean;
  /** host: the node's path once resolved there (mountsOf), "" before; volume: the Docker volume; tmpfs: "". */
  source: string;
  /** tmpfs: its size (the copy's memory when unset); 0 otherwise. */
  sizeMb: number;
}

/** A host volume a copy needs on its node, as placement checks it. */
export interface HostVolumeNeed {
  name: string;
  readOnly: boolean;
}

/** Docker's own rule for volume names; anything with a `/` the engine would take for a host path. */
const DOCKER_VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]+$/;

/** tessera.v1.VolumeType by number (the core imports only types from generated code). */
const KINDS: { [T in VolumeType]: VolumeKind | undefined } = {
  0: "host", // VOLUME_TYPE_UNSPECIFIED
  1: "host", // VOLUME_TYPE_HOST
  2: "volume", // VOLUME_TYPE_VOLUME
  3: "tmpfs", // VOLUME_TYPE_TMPFS
  [-1]: undefined, // UNRECOGNIZED
};

function kindOf(v: Volume): VolumeKind | undefined {
  return KINDS[v.type];
}

/** The spec's volumes in order (a spec stored before volumes has none); tmpfs sizes default to `memoryMb`. */
export function volumeMounts(spec: { volumes?: Volume[] }, memoryMb: number): VolumeMount[] {
  return (spec.volumes ?? []).map((v) => {
    const kind = kindOf(v) ?? "host";
    return { name: v.name, kind, mountPath: v.mountPath, readOnly: v.readOnly, source: kind === "volume" ? v.source : "", sizeMb: kind === "tmpfs" ? v.sizeMb || memoryMb : 0 };
  });
}

/** The host volumes among `mounts`. */
export function hostVolumeNeeds(mounts: readonly VolumeMount[]): HostVolumeNeed[] {
  return mounts.filter((m) => m.kind === "host").map((m) => ({ name: m.name, readOnly: m.readOnly }));
}

/** What feasibility depends on in a spec's volumes, as one string: its host volumes and whether it writes to them. "" when none. */
export function volumeShape(needs: readonly HostVolumeNeed[]): string {
  if (needs.length === 0) return "";
  return needs
    .map((n) => `${n.name}:${n.readOnly ? "ro" : "rw"}`)
    .sort()
    .join(",");
}

/** The host volume `name` among `offered`, or undefined. A loop: placement calls it for every candidate node. */
export function offeredVolume(offered: readonly HostVolume[], name: string): HostVolume | undefined {
  for (let i = 0; i < offered.length; i++) if (offered[i]!.name === name) return offered[i];
  return undefined;
}

/**
 * What a copy gets on `node`: every host volume it names looked up among the ones its agent
 * declares (`offered`), never a path from elsewhere; or why it cannot run there. Whether the
 * paths exist is the agent's to check.
 */
export function mountsOf(mounts: readonly VolumeMount[], offered: readonly HostVolume[], node: string): { mounts: VolumeMount[] } | { problem: string } {
  const out: VolumeMount[] = [];
  for (const m of mounts) {
    // The control plane refuses such a spec at apply; an agent checks again rather than trust it.
    if (m.kind === "volume" && !DOCKER_VOLUME_NAME.test(m.source)) return { problem: `volume ${m.name}: "${m.source}" is not a Docker volume name` };
    if (m.kind !== "host") {
      out.push(m);
      continue;
    }
    const host = offeredVolume(offered, m.name);
    if (host === undefined) return { problem: `host volume ${m.name} is not declared on ${node}` };
    if (host.readOnly && !m.readOnly) return { problem: `host volume ${m.name} is read-only on ${node}, and the copy does not mount it read_only` };
    out.push({ ...m, source: host.path });
  }
  return { mounts: out };
}

/** TESSERA_VOLUME_<NAME>: where the copy finds each volume (its mount path in a container, the host path for a process). */
export function volumeEnvironment(mounts: readonly VolumeMount[], image: boolean): Record<string, string> {
  return Object.fromEntries(mounts.map((m) => [`TESSERA_VOLUME_${envName(m.name)}`, image ? m.mountPath : m.source]));
}

/** `data=/srv/data,logs=/var/log:ro`: host volumes as --host-volume takes them. */
export function describeHostVolumes(volumes: readonly HostVolume[]): string {
  return volumes.map((v) => `${v.name}=${v.path}${v.readOnly ? ":ro" : ""}`).join(",");
}

function nameProblem(name: string, field: string): Rejection | undefined {
  return isDnsLabel(name) ? undefined : invalidArgument(field, `a DNS label (lower-case letters, digits, '-'; at most 63 characters), got "${name}"`);
}

/** What is wrong with a path that must be absolute, or undefined. */
function absolutePathProblem(path: string): string | undefined {
  if (path.includes("\0")) return "an absolute path without NUL bytes";
  if (!path.startsWith("/")) return `an absolute path, got "${path}"`;
  return undefined;
}

/** What is wrong with a path to mount something at in a container (absolute, clean, not its root), or undefined. */
export function containerPathProblem(path: string): string | undefined {
  const problem = absolutePathProblem(path);
  if (problem) return problem;
  if (path === "/") return "a path other than / (the container's root)";
  if (path.split("/").slice(1).some((s) => s === "" || s === "." || s === "..")) return `a path without '.', '..' or empty segments (nor a trailing '/'), got "${path}"`;
  return undefined;
}

/** Problems with `spec.volumes`, each naming its field. `memoryMb`: what one copy reserves (bounds tmpfs). */
export function validateVolumes(spec: { image: string; volumes?: Volume[] }, memoryMb: number, at = "workload.spec.volumes"): Rejection[] {
  const problems: Rejection[] = [];
  const image = spec.image !== "";
  const names = new Set<string>();
  const paths = new Map<string, number>();
  (spec.volumes ?? []).forEach((v, i) => {
    const field = `${at}[${i}]`;
    const named = nameProblem(v.name, `${field}.name`);
    if (named) problems.push(named);
    else if (names.has(v.name)) problems.push(invalidArgument(`${field}.name`, `a name not used by another volume, got "${v.name}" twice`));
    names.add(v.name);
    const kind = kindOf(v);
    if (kind === undefined) problems.push(invalidArgument(`${field}.type`, `VOLUME_TYPE_HOST, VOLUME_TYPE_VOLUME or VOLUME_TYPE_TMPFS, got ${v.type}`));
    else if (kind !== "host" && !image) problems.push(invalidArgument(`${field}.type`, `a host volume for a process workload (${kind === "volume" ? "Docker named volumes" : "tmpfs"} are for containers: set spec.image)`));
    if (!image) {
      if (v.mountPath !== "") problems.push(invalidArgument(`${field}.mount_path`, `no mount path for a process workload: it finds the volume at \${TESSERA_VOLUME_${envName(v.name)}} (set spec.image, or leave mount_path out)`));
    } else if (v.mountPath === "") problems.push(invalidArgument(`${field}.mount_path`, "the absolute path in the container to mount it at"));
    else {
      const problem = containerPathProblem(v.mountPath);
      if (problem) problems.push(invalidArgument(`${field}.mount_path`, problem));
      else if (paths.has(v.mountPath)) problems.push(invalidArgument(`${field}.mount_path`, `a path not used by volumes[${paths.get(v.mountPath)}], got "${v.mountPath}" again`));
      else paths.set(v.mountPath, i);
    }
    if (kind === "volume") {
      if (!DOCKER_VOLUME_NAME.test(v.source))
        problems.push(invalidArgument(`${field}.source`, `a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]+), not a path: host paths are mounted only as host volumes their agent declares, got "${v.source}"`));
    } else if (v.source !== "") problems.push(invalidArgument(`${field}.source`, `no source for ${kind === "tmpfs" ? "tmpfs" : "a host volume (its name says which of the node's host volumes)"}, got "${v.source}"`));
    if (kind === "tmpfs") {
      if (v.sizeMb > memoryMb) problems.push(invalidArgument(`${field}.size_mb`, `at most the copy's memory (resources.memory_mb, ${memoryMb}), which tmpfs pages count against, got ${v.sizeMb}`));
    } else if (v.sizeMb !== 0) problems.push(invalidArgument(`${field}.size_mb`, `no size but for tmpfs, got ${v.sizeMb}`));
  });
  return problems;
}

/** The first problem with what an agent declares (its hello, or its flags), naming the field. */
export function validateHostVolumes(volumes: readonly HostVolume[], at = "hello.host_volumes"): Rejection | undefined {
  const names = new Set<string>();
  for (const [i, v] of volumes.entries()) {
    const named = nameProblem(v.name, `${at}[${i}].name`);
    if (named) return named;
    if (names.has(v.name)) return invalidArgument(`${at}[${i}].name`, `a name not used by another host volume, got "${v.name}" twice`);
    names.add(v.name);
    const problem = absolutePathProblem(v.path);
    if (problem) return invalidArgument(`${at}[${i}].path`, problem);
  }
  return undefined;
}
