/**
 * `tessera ctl secret|config create|update NAME`, `get secrets|configs`, `delete secret|config`,
 * `secret rotate-key`.
 * Values come from files, literals or an env file; a secret's are never shown again by
 * anything (the control plane answers names, keys, sizes and versions only).
 */
import { readFileSync } from "node:fs";
import { Command, Option, UsageError } from "clipanion";
import { ListConfigsResponse, ListSecretsResponse } from "../../src/gen/tessera/v1/secrets.js";
import type { SecretInfo } from "../../src/gen/tessera/v1/secrets.js";
import type { Ctl } from "../client.js";
import { age } from "../table.js";
import { CtlCommand } from "./ctl-command.js";
import { GetCommand, type Listing } from "./get-command.js";
import { protoJson } from "./render.js";

type Kind = "secret" | "config";

/** `KEY=REST` split at the first `=`, or a usage error naming the option. */
function keyValue(arg: string, option: string): [string, string] {
  const at = arg.indexOf("=");
  if (at <= 0) throw new UsageError(`${option}: expected KEY=${option === "--from-file" ? "PATH" : "VALUE"}, got "${arg}"`);
  return [arg.slice(0, at), arg.slice(at + 1)];
}

/** The values the options name, by key; a key given twice is a usage error. */
export function readValues(opts: { files: string[]; literals: string[]; envFiles: string[] }): Record<string, Buffer> {
  const data: Record<string, Buffer> = {};
  const add = (key: string, value: Buffer, from: string) => {
    if (Object.hasOwn(data, key)) throw new UsageError(`${from}: key "${key}" is given twice`);
    data[key] = value;
  };
  for (const f of opts.files) {
    const [key, path] = keyValue(f, "--from-file");
    add(key, readFileSync(path), "--from-file");
  }
  for (const l of opts.literals) {
    const [key, value] = keyValue(l, "--from-literal");
    add(key, Buffer.from(value), "--from-literal");
  }
  for (const path of opts.envFiles) {
    readFileSync(path, "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
      .forEach((line) => {
        const [key, value] = keyValue(line, `--from-env-file ${path}`);
        add(key, Buffer.from(value), "--from-env-file");
      });
  }
  if (Object.keys(data).length === 0) throw new UsageError("expected at least one --from-file KEY=PATH, --from-literal KEY=VALUE or --from-env-file FILE");
  return data;
}

function putCommand(kind: Kind, verb: "create" | "update") {
  return class extends CtlCommand {
    static paths = [["ctl", kind, verb]];
    static usage = Command.Usage({
      category: "Secrets and configs",
      description: `${verb} a ${kind}${kind === "secret" ? " (sealed at rest; its values are never shown again)" : " (files that are not secret, shown in full)"}`,
      details: `Each option adds keys; an update replaces the whole set. Limits: 32 keys, 64 KiB a value, 256 KiB in all. Prints the version now current.`,
      examples: [
        [`From a file`, `tessera ctl ${kind} ${verb} ${kind === "secret" ? "db --from-file password=./password.txt" : "nginx --from-file default.conf=./default.conf"}`],
        [`From literals`, `tessera ctl ${kind} ${verb} ${kind === "secret" ? "db --from-literal user=app --from-literal password=s3cret" : "app --from-literal level=debug"}`],
        [`From an env file (KEY=VALUE lines)`, `tessera ctl ${kind} ${verb} ${kind === "secret" ? "db" : "app"} --from-env-file ./app.env`],
      ],
    });
    name = Option.String({ required: true });
    files = Option.Array("--from-file", [], { description: "a key whose value is the file's content; repeatable" });
    literals = Option.Array("--from-literal", [], { description: "a key and its value; repeatable" });
    envFiles = Option.Array("--from-env-file", [], { description: "a file of KEY=VALUE lines (# comments), each a key; repeatable" });

    async runWith(ctl: Ctl) {
      const data = readValues({ files: this.files, literals: this.literals, envFiles: this.envFiles });
      const req = { name: this.name, data, create: verb === "create" };
      const { version } = kind === "secret" ? await ctl.call(ctl.api.putSecret, req) : await ctl.call(ctl.api.putConfig, req);
      this.out(`${kind} ${this.name} version ${version}`);
    }
  };
}

export const SecretCreateCommand = putCommand("secret", "create");
export const SecretUpdateCommand = putCommand("secret", "update");
export const ConfigCreateCommand = putCommand("config", "create");
export const ConfigUpdateCommand = putCommand("config", "update");

const infoRow = (s: SecretInfo | undefined, now: number) => [s?.name ?? "", String(s?.version ?? 0), (s?.keys ?? []).map((k) => `${k.key}(${k.size})`).join(",") || "<none>", s?.updatedBy ?? "", s?.updated ? age(s.updated, now) : ""];
const HEADER = ["NAME", "VERSION", "KEYS(BYTES)", "UPDATED-BY", "AGE"];

export class GetSecretsCommand extends GetCommand {
  static paths = [["ctl", "get", "secrets"], ["ctl", "get", "secret"]];
  static usage = Command.Usage({ category: "Secrets and configs", description: "list secrets: names, keys, sizes, versions, who changed them when (never a value)", examples: [["List", "tessera ctl get secrets"]] });

  async list(ctl: Ctl): Promise<Listing> {
    const res = await ctl.call(ctl.api.listSecrets, {});
    const now = Date.now();
    return { json: protoJson("tessera.v1.ListSecretsResponse", ListSecretsResponse, res), header: HEADER, rows: res.secrets.map((s) => infoRow(s, now)), wideHeader: [], wideRows: res.secrets.map(() => []), empty: "No secrets." };
  }
}

export class GetConfigsCommand extends GetCommand {
  static paths = [["ctl", "get", "configs"], ["ctl", "get", "config"]];
  static usage = Command.Usage({ category: "Secrets and configs", description: "list configs; -o yaml or json shows their contents", examples: [["List", "tessera ctl get configs"], ["With contents", "tessera ctl get configs -o yaml"]] });

  async list(ctl: Ctl): Promise<Listing> {
    const res = await ctl.call(ctl.api.listConfigs, {});
    const now = Date.now();
    return {
      json: protoJson("tessera.v1.ListConfigsResponse", ListConfigsResponse, res),
      header: HEADER,
      rows: res.configs.map((c) => infoRow(c.info, now)),
      wideHeader: ["CONTENTS"],
      wideRows: res.configs.map((c) => [Object.entries(c.data).map(([k, v]) => `${k}=${JSON.stringify(Buffer.from(v).toString("utf8"))}`).join(" ")]),
      empty: "No configs.",
    };
  }
}

function deleteCommand(kind: Kind) {
  return class extends CtlCommand {
    static paths = [["ctl", "delete", kind]];
    static usage = Command.Usage({ category: "Secrets and configs", description: `delete a ${kind} and every stored version of it`, examples: [["Delete", `tessera ctl delete ${kind} NAME`]] });
    name = Option.String({ required: true });

    async runWith(ctl: Ctl) {
      if (kind === "secret") await ctl.call(ctl.api.deleteSecret, { name: this.name });
      else await ctl.call(ctl.api.deleteConfig, { name: this.name });
      this.out(`${kind} ${this.name} deleted`);
    }
  };
}

export const DeleteSecretCommand = deleteCommand("secret");
export const DeleteConfigCommand = deleteCommand("config");

export class RotateClusterKeyCommand extends CtlCommand {
  static paths = [["ctl", "secret", "rotate-key"]];
  static usage = Command.Usage({
    category: "Secrets and configs",
    description: "rotate the cluster key: every stored version of every secret sealed again under a new key, the old one dropped",
    details: "One store transaction re-seals them all (the log records SecretResealed, no value). On SQLite the new key is written to the control plane's data dir (secrets.key) before anything is sealed under it; on PostgreSQL it is derived from the CA secret and a new generation. Copies keep running: they are sent the same values. Admin only.",
    examples: [["Rotate", "tessera ctl secret rotate-key"]],
  });

  async runWith(ctl: Ctl) {
    const { generation, resealed } = await ctl.call(ctl.api.rotateClusterKey, {});
    this.out(`cluster key rotated: generation ${generation}, ${resealed} secret version${resealed === 1 ? "" : "s"} sealed again`);
  }
}
