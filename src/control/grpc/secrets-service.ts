/**
 * The ControlPlane handlers for secrets and configs: put (create or update), list, delete, and
 * the rotation of the cluster key (security/key-rotation.ts).
 * They seal the values (security/secret-seal.ts) and submit what the core may see: keys,
 * sizes, a digest and the opaque payload (core/model/secrets.ts decides and numbers versions).
 * No handler answers a secret's value, to any token; a config's contents are answered in full.
 */
import { status } from "@grpc/grpc-js";
import { currentVersion, type SecretKind, type SecretRecord } from "../../core/model/secrets.js";
import type { ControlPlaneServer } from "../../gen/tessera/v1/control_plane.js";
import type { SecretInfo } from "../../gen/tessera/v1/secrets.js";
import type { ClusterSealing } from "../security/cluster-keys.js";
import { rotateClusterKey } from "../security/key-rotation.js";
import { openConfig, SecretSealMismatch } from "../security/secret-seal.js";
import type { CommandPort } from "../writer/writer.js";
import { caller, refused, type Rpc } from "./rpc.js";

type SecretsHandlers = Pick<ControlPlaneServer, "putSecret" | "listSecrets" | "deleteSecret" | "putConfig" | "listConfigs" | "deleteConfig" | "rotateClusterKey">;

/** What may be shown of a record: never a value. */
function secretInfo(r: Readonly<SecretRecord>): SecretInfo {
  const v = currentVersion(r);
  return { name: r.name, version: v.version, keys: v.keys.map((k) => ({ key: k.key, size: k.size })), updatedBy: v.by, updated: new Date(v.at), created: new Date(r.createdAt) };
}

/** The records of a kind, by name. */
function recordsOf(writer: CommandPort, kind: SecretKind): Readonly<SecretRecord>[] {
  return [...writer.view.secrets.values()].filter((r) => r.kind === kind).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function createSecretsHandlers(rpc: Rpc, writer: CommandPort, sealing: ClusterSealing | undefined): SecretsHandlers {
  const { unary } = rpc;
  const mustSealing = (): ClusterSealing => {
    if (!sealing) throw { code: status.FAILED_PRECONDITION, details: "this control plane runs on PostgreSQL with --insecure: without a CA secret it has no cluster key to seal secrets with" };
    return sealing;
  };
  const put = (kind: SecretKind) => async (req: { name: string; data: { [key: string]: Uint8Array }; create: boolean }, metadata: Parameters<typeof caller>[0]) => {
    const { sealer } = mustSealing();
    // Sealed and recorded while no rotation runs: never under a key it retires.
    const d = await sealer.exclusive(() => writer.submit({ type: "PutSecret", kind, name: req.name, ...sealer.seal(kind, req.name, req.data), create: req.create, by: caller(metadata) }));
    if (d.rejection) throw refused(d.rejection);
    const record = writer.view.secrets.get(`${kind}/${req.name}`);
    return { version: record ? currentVersion(record).version : 0 };
  };
  const remove = (kind: SecretKind) => async (req: { name: string }, metadata: Parameters<typeof caller>[0]) => {
    const d = await writer.submit({ type: "DeleteSecret", kind, name: req.name, by: caller(metadata) });
    if (d.rejection) throw refused(d.rejection);
    return {};
  };
  return {
    putSecret: unary("PutSecret", put("secret")),
    listSecrets: unary("ListSecrets", () => ({ secrets: recordsOf(writer, "secret").map(secretInfo) })),
    deleteSecret: unary("DeleteSecret", remove("secret")),
    putConfig: unary("PutConfig", put("config")),
    listConfigs: unary("ListConfigs", () => ({
      configs: recordsOf(writer, "config").map((r) => {
        const payload = currentVersion(r).payload;
        return { info: secretInfo(r), data: payload === undefined ? {} : openConfig(payload) };
      }),
    })),
    deleteConfig: unary("DeleteConfig", remove("config")),
    rotateClusterKey: unary("RotateClusterKey", async (_req, metadata) => {
      const { sealer, keys } = mustSealing();
      const rotated = await rotateClusterKey(writer, sealer, keys, caller(metadata)).catch((err: unknown) => {
        // A stored value no key of this control plane opens (a replaced secrets.key): nothing was changed.
        if (err instanceof SecretSealMismatch) throw { code: status.FAILED_PRECONDITION, details: `cannot rotate the cluster key: ${err.message}` };
        throw err;
      });
      if ("rejection" in rotated) throw refused(rotated.rejection);
      return rotated;
    }),
  };
}
