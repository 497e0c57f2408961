/**
 * What a container mounts, as the Docker engine takes it (shell: engine types): its volumes
 * (host volumes as bind mounts of the paths this agent declares, Docker named volumes, tmpfs)
 * and the directory of each secret and config it uses, on the agent's tmpfs
 * (secret-files.ts), bind-mounted read-only at its mount_path.
 */
import type Docker from "dockerode";
import type { VolumeMount } from "../core/model/volumes.js";
import type { StartRequest } from "./executor.js";

/** The engine's own default for a tmpfs (as /tmp): anyone writes, only owners remove. */
const TMPFS_MODE = 0o1777;

/** A copy's volumes as the engine mounts them (host paths already resolved on this node). */
function engineMount(m: VolumeMount): Docker.MountSettings {
  switch (m.kind) {
    case "host":
      return { Type: "bind", Source: m.source, Target: m.mountPath, ReadOnly: m.readOnly };
    case "volume":
      return { Type: "volume", Source: m.source, Target: m.mountPath, ReadOnly: m.readOnly };
    case "tmpfs":
      return { Type: "tmpfs", Source: "", Target: m.mountPath, ReadOnly: m.readOnly, TmpfsOptions: { SizeBytes: m.sizeMb * 1024 * 1024, Mode: TMPFS_MODE } };
  }
}

/** Its volumes, and each secret's and config's directory on the agent's tmpfs, read-only at its mount_path. */
export function mountsOf(req: StartRequest): Docker.MountSettings[] | undefined {
  const binds = (req.secrets?.binds ?? []).map((b): Docker.MountSettings => ({ Type: "bind", Source: b.source, Target: b.mountPath, ReadOnly: true }));
  const mounts = [...req.mounts.map(engineMount), ...binds];
  return mounts.length > 0 ? mounts : undefined;
}

