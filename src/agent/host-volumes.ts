/**
 * A copy's volumes on this node: the host volumes its spec names, looked up among the ones this
 * agent declares (--host-volume), never a path the control plane sent; each must exist. Shell:
 * it looks at the file system.
 */
import { existsSync } from "node:fs";
import { resolveSpec } from "../core/model/spec.js";
import { type HostVolume, mountsOf, type VolumeMount } from "../core/model/volumes.js";
import type { WorkloadSpec } from "../gen/tessera/v1/types.js";

/** The copy's volumes with host paths filled in; throws the reason the copy cannot have them here. */
export function resolveMounts(spec: WorkloadSpec, declared: readonly HostVolume[], node: string): VolumeMount[] {
  const resolved = mountsOf(resolveSpec(spec).volumes, declared, node);
  if ("problem" in resolved) throw new Error(resolved.problem);
  for (const m of resolved.mounts) if (m.kind === "host" && !existsSync(m.source)) throw new Error(`host volume ${m.name}: ${m.source} does not exist on ${node}`);
  return resolved.mounts;
}
