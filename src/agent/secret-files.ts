/**
 * The secrets and configs a copy uses, as files on a tmpfs (shell: file I/O): written before the
 * copy starts, removed when it ends. Never in the agent's data dir: /dev/shm is memory, gone at
 * a reboot, and each agent writes under a directory of its own (named by a hash of its data
 * dir, so agents sharing a host never meet), owner-only (0700 directories, 0400 files; a
 * container's sets, NAME and its files, are its image's numeric USER's: file-owner.ts).
 *
 * Layout: ROOT/INSTANCE/secrets/NAME/KEY and ROOT/INSTANCE/configs/NAME/KEY, and
 * ROOT/INSTANCE/versions.json (the versions written and how, for a refresh and a rerender); a process copy
 * gets TESSERA_SECRETS_DIR and TESSERA_CONFIGS_DIR pointing at the middle two, a container
 * each NAME directory bind-mounted read-only at its mount_path (docker-executor.ts).
 */
import { createHash } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderTemplate } from "../core/model/config-template.js";
import type { FileOwner } from "../core/model/file-owner.js";
import { type ChangeMode, changeMode } from "../core/model/secret-use.js";
import type { Endpoint } from "../core/views/endpoints.js";
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
 * Beside a copy's directories, read by refresh and rerender: the version of each set it
 * mounts, each template config's files as delivered (configs are not secret: a template is
 * rendered again when the endpoints it names change), the copy's variables they are rendered
 * with, and what a change does to the copy (spec.on_change). No value of a secret.
 */
const RECORD = "versions.json";

interface CopyRecord {
  versions: Record<string, number>;
  /** Template config ("config/NAME") → key → its text as delivered. */
  templates: Record<string, Record<string, string>>;
  vars: Record<string, string>;
  onChange: ChangeMode;
  /** Whose the sets' directories and files are, when not the agent's (a container's numeric USER). */
  owner?: FileOwner;
}

/** How a copy's files are written: its variables, the endpoints held now, and whose they are. */
export interface CopyContext {
  vars?: Record<string, string>;
  endpointsOf?: EndpointsOf;
  owner?: FileOwner;
}

/**
 * Gives a file or directory to the copy's user. Only root can: an agent running as another
 * user runs no container of another user's either (no Docker), so its files stay its own.
 */
function own(path: string, owner: FileOwner | undefined): void {
  if (owner !== undefined && process.getuid?.() === 0) chownSync(path, owner.uid, owner.gid ?? process.getgid!());
}

/** A workload's endpoints as the agent holds them now (the control plane's EndpointsUpdates). */
export type EndpointsOf = (workload: string) => readonly Endpoint[];

const NO_ENDPOINTS: EndpointsOf = () => [];

/** A copy's record; undefined when it mounts nothing (or its files are gone). */
function readRecord(path: string): CopyRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as CopyRecord;
  } catch {
    return undefined;
  }
}

/** A template file rendered for the copy; throws naming the config, the key and a bad reference. */
function rendered(id: string, key: string, text: string, vars: Readonly<Record<string, string>>, endpointsOf: EndpointsOf): string {
  const r = renderTemplate(`${id.replace("/", " ")} key ${key}`, text, vars, endpointsOf);
  if ("error" in r) throw new Error(r.error);
  return r.text;
}

/** A template config's files as text. */
function textsOf(set: DeliveredSet): Record<string, string> {
  return Object.fromEntries(Object.entries(set.data).map(([key, value]) => [key, Buffer.from(value).toString("utf8")]));
}

/** A file's text; undefined when it cannot be read (gone: written again). */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** One file replaced whole: a temporary file renamed over it, so a reader sees the old file or the new, never half. */
function replaceFile(base: string, path: string, content: Uint8Array | string, owner: FileOwner | undefined): void {
  const tmp = join(base, ".refresh");
  writeFileSync(tmp, content, { mode: 0o400 });
  own(tmp, owner);
  renameSync(tmp, path);
}

/** The directory of a set ("config/NAME") under a copy's. */
function setDir(base: string, id: string): string {
  const [kind, name] = id.split("/") as [string, string];
  return join(base, `${kind}s`, name);
}

export class SecretFiles {
  private readonly root: string;

  constructor(
    dataDir: string,
    private readonly tmpfs = SECRETS_TMPFS,
  ) {
    this.root = join(tmpfs, `tessera-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}`);
  }

  /**
   * Writes what `spec` mounts (template configs rendered with `vars`, the copy's own, and the
   * endpoints held now; each set's directory and files made `owner`'s) and resolves its
   * secret_env; throws naming what is missing or bad.
   */
  write(instanceId: string, spec: WorkloadSpec, delivered: readonly DeliveredSet[], { vars = {}, endpointsOf = NO_ENDPOINTS, owner }: CopyContext = {}): CopySecrets {
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
    const record: CopyRecord = { versions: {}, templates: {}, vars, onChange: changeMode(spec), ...(owner && { owner }) };
    for (const [kind, { name, mountPath, template }] of mounts) {
      const set = byId.get(`${kind}/${name}`);
      if (!set) throw new Error(`${kind} ${name} was not delivered with the start`);
      const id = `${kind}/${name}`;
      const dir = setDir(base, id);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      own(dir, owner);
      if (template) record.templates[id] = textsOf(set);
      for (const [key, value] of Object.entries(set.data)) {
        writeFileSync(join(dir, key), template ? rendered(id, key, record.templates[id]![key]!, vars, endpointsOf) : value, { mode: 0o400 });
        own(join(dir, key), owner);
      }
      binds.push({ source: dir, mountPath });
      record.versions[id] = set.version;
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
  refresh(instanceId: string, delivered: readonly DeliveredSet[], endpointsOf = NO_ENDPOINTS): boolean {
    const base = join(this.root, instanceId);
    const record = readRecord(join(base, RECORD));
    if (record === undefined) return false;
    const held = record.versions;
    const stale = delivered.filter((set) => held[`${set.kind}/${set.name}`] !== undefined && held[`${set.kind}/${set.name}`] !== set.version);
    for (const set of stale) {
      const id = `${set.kind}/${set.name}`;
      const dir = setDir(base, id);
      const template = record.templates[id] !== undefined;
      if (template) record.templates[id] = textsOf(set);
      for (const [key, value] of Object.entries(set.data)) replaceFile(base, join(dir, key), template ? rendered(id, key, record.templates[id]![key]!, record.vars, endpointsOf) : value, record.owner);
      for (const key of readdirSync(dir)) if (!Object.hasOwn(set.data, key)) rmSync(join(dir, key), { force: true });
      held[id] = set.version;
    }
    if (stale.length > 0) writeFileSync(join(base, RECORD), JSON.stringify(record), { mode: 0o600 });
    return stale.length > 0;
  }

  /**
   * Renders a running copy's template configs again with the endpoints held now, replacing
   * each file whose text changed (whole, as refresh does). Returns the copy's on_change when
   * a file changed, for the caller to signal or restart it; undefined when none did (the same
   * endpoints sent again, a change to workloads its templates do not name, no templates).
   */
  rerender(instanceId: string, endpointsOf: EndpointsOf): ChangeMode | undefined {
    const base = join(this.root, instanceId);
    const record = readRecord(join(base, RECORD));
    let changed = false;
    for (const [id, texts] of Object.entries(record?.templates ?? {})) {
      for (const [key, text] of Object.entries(texts)) {
        const path = join(setDir(base, id), key);
        const now = rendered(id, key, text, record!.vars, endpointsOf);
        if (readText(path) === now) continue;
        replaceFile(base, path, now, record!.owner);
        changed = true;
      }
    }
    return changed ? record!.onChange : undefined;
  }

  /** Removes a copy's files (when it ended or was stopped); nothing when it had none. */
  remove(instanceId: string): void {
    rmSync(join(this.root, instanceId), { recursive: true, force: true });
  }
}
