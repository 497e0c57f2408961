/**
 * The agent's --host-volume flags (NAME=PATH or NAME=PATH:ro, repeatable), read into the host
 * volumes its hello advertises. Refusals name the flag; the control plane checks the same values
 * again (volumes.ts validateHostVolumes), since a hello may come from any agent.
 */
import { UsageError } from "clipanion";
import { describeRejection } from "../src/core/model/rejections.js";
import { type HostVolume, validateHostVolumes } from "../src/core/model/volumes.js";

export function parseHostVolumes(values: readonly string[]): HostVolume[] {
  const volumes = values.map((text): HostVolume => {
    const eq = text.indexOf("=");
    if (eq <= 0) throw new UsageError(`--host-volume: expected NAME=PATH or NAME=PATH:ro, e.g. data=/srv/data, got "${text}"`);
    const rest = text.slice(eq + 1);
    const readOnly = rest.endsWith(":ro");
    return { name: text.slice(0, eq), path: readOnly ? rest.slice(0, -":ro".length) : rest, readOnly };
  });
  // `--host-volume[1].path: expected an absolute path, got "srv"`: the value says which flag.
  const problem = validateHostVolumes(volumes, "--host-volume");
  if (problem) throw new UsageError(describeRejection(problem));
  return volumes;
}
