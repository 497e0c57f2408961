/**
 * The secrets and configs a copy uses, as files on a tmpfs (shell: file I/O): written before the
 * copy starts, removed when it ends. Never in the agent's data dir: /dev/shm is memory, gone at
 * a reboot, and each agent writes under a directory of its own (named by a hash of its data
 * dir, so agents sharing a host never meet), owner-only (0700 directories, 0400 files).
 *
 * Layout: ROOT/INSTANCE/secrets/NAME/KEY and ROOT/INSTANCE/configs/NAME/KEY, and
 * ROOT/INSTANCE/versions.json (the versions written and how, for a refresh); a process copy
 * gets TESSERA_SECRETS_DIR and TESSERA_CONFIGS_DIR pointing at the middle two, a container
 * each NAME directory bind-mounted read-only at its mount_path (docker-executor.ts).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expand } from "../core/model/port-env.js";
import type { DeliveredSet } from "../gen/tessera/v1/agent_gateway.js";
import type { WorkloadSpec } from "../gen/tessera/v1/types.js";

/** Where the agent's secret files live: memory, never disk. */
export const SECRETS_TMPFS = "/dev/shm";

/** What a copy is given of its secrets and configs. */
export interface CopySecrets {
  /** Its secret_env values. */
  env: Record<string, string>;
  /** Where its secret and config directories are, when it mounts any: a process is told them (TESSERA_SECRETS_DIR, TESSERA_CONFIGS_DIR). */
  dirs?: { secrets: string; configs: string };
  /** Each mounted set's directory, and the mount_path a container mounts it at, read-only. */
  binds: Array<{ source: string; mountPath: string }>;
}

/**
 * Beside a copy's directories, read by refresh: the version of each set it mounts, which of
 * them are templates, and the copy's variables they are rendered with (no value of a set).
 */
const RECORD = "versions.json";

interface CopyRecord {
  versions: Record<string, number>;
  templates: string[];
  vars: Record<string, string>;
}

/** A copy's record; undefined when it mounts nothing (or its files are gone). */
function readRecord(path: string): CopyRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as CopyRecord;
  } catch {
    return undefined;
  }
}

/** A file's content: a template config's `${TESSERA_...}` rendered with the copy's variables, anything else as it is. */
function contentOf(value: Uint8Array, template: boolean, vars: Readonly<Record<string, string>>): Uint8Array | string {
  return template ? expand(Buffer.from(value).toString("utf8"), vars) : value;
}

export class SecretFiles {
  private readonly root: string;

  constructor(
    dataDir: string,
    private readonly tmpfs = SECRETS_TMPFS,
  ) {
    this.root = join(tmpfs, `tessera-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}`);
  }

  /** Writes what `spec` mounts (template configs rendered with `vars`, the copy's own) and resolves its secret_env; throws naming what is missing. */
  write(instanceId: string, spec: WorkloadSpec, delivered: readonly DeliveredSet[], vars: Record<string, string> = {}): CopySecrets {
    const byId = new Map(delivered.map((d) => [`${d.kind}/${d.name}`, d]));
    const env: Record<string, string> = {};
    for (const [name, ref] of Object.entries(spec.secretEnv ?? {})) {
      const value = byId.get(`secret/${ref.secret}`)?.data[ref.key];
      if (value === undefined) throw new Error(`secret_env ${name}: secret ${ref.secret} key ${ref.key} was not delivered with the start`);
      env[name] = Buffer.from(value).toString("utf8");
    }
    const mounts = [...(spec.secrets ?? []).map((m) => ["secret", m] as const), ...(spec.configs ?? []).map((m) => ["config", m] as const)];
    if (mounts.length === 0) return { env, binds: [] };
    if (!existsSync(this.tmpfs)) throw new Error(`no tmpfs at ${this.tmpfs} to hold the copy's secrets`);
    const base = join(this.root, instanceId);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const binds: CopySecrets["binds"] = [];
    const record: CopyRecord = { versions: {}, templates: [], vars };
    for (const [kind, { name, mountPath, template }] of mounts) {
      const set = byId.get(`${kind}/${name}`);
      if (!set) throw new Error(`${kind} ${name} was not delivered with the start`);
      const dir = join(base, `${kind}s`, name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const [key, value] of Object.entries(set.data)) writeFileSync(join(dir, key), contentOf(value, template === true, vars), { mode: 0o400 });
      binds.push({ source: dir, mountPath });
      record.versions[`${kind}/${name}`] = set.version;
      if (template) record.templates.push(`${kind}/${name}`);
    }
    writeFileSync(join(base, RECORD), JSON.stringify(record), { mode: 0o600 });
    return { env, dirs: { secrets: join(base, "secrets"), configs: join(base, "configs") }, binds };
  }

  /**
   * Writes new versions over a running copy's files (spec.on_change SIGNAL or NONE): each file
   * replaced whole, a temporary file renamed over it, so that the copy reads the old file or
   * the new, never half of one; keys no longer there removed. Only what the copy mounts is
   * written (its secret_env is fixed at its start). Returns whether anything changed: false,
   * writing nothing, when the copy holds these versions already (a refresh sent again).
   */
  refresh(instanceId: string, delivered: readonly DeliveredSet[]): boolean {
    const base = join(this.root, instanceId);
    const record = readRecord(join(base, RECORD));
    if (record === undefined) return false;
    const held = record.versions;
    const stale = delivered.filter((set) => held[`${set.kind}/${set.name}`] !== undefined && held[`${set.kind}/${set.name}`] !== set.version);
    for (const set of stale) {
      const dir = join(base, `${set.kind}s`, set.name);
      const tmp = join(base, ".refresh");
      const template = record.templates.includes(`${set.kind}/${set.name}`);
      for (const [key, value] of Object.entries(set.data)) {
        writeFileSync(tmp, contentOf(value, template, record.vars), { mode: 0o400 });
        renameSync(tmp, join(dir, key));
      }
      for (const key of readdirSync(dir)) if (!Object.hasOwn(set.data, key)) rmSync(join(dir, key), { force: true });
      held[`${set.kind}/${set.name}`] = set.version;
    }
    if (stale.length > 0) writeFileSync(join(base, RECORD), JSON.stringify(record), { mode: 0o600 });
    return stale.length > 0;
  }

  /** Removes a copy's files (when it ended or was stopped); nothing when it had none. */
  remove(instanceId: string): void {
    rmSync(join(this.root, instanceId), { recursive: true, force: true });
  }
}
