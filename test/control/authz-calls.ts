/** What the authorization matrices call with: TLS credentials carrying a token, and every ControlPlane method once with a minimal request. */
import { type ChannelCredentials, credentials, Metadata, status } from "@grpc/grpc-js";
import type { ControlPlaneMethod } from "../../src/core/access/authz.js";
import { type ControlPlaneClient, type ExecRequest, TokenKind } from "../../src/gen/tessera/v1/control_plane.js";
import { spec } from "../core/fixtures.js";

/** Calls a method with a minimal request; resolves with the status code. */
/** TLS trusting `ca`, each call carrying `token` as a bearer token (none: no authorization header). */
export const withToken = (ca: Buffer, token?: string): ChannelCredentials =>
  credentials.combineChannelCredentials(
    credentials.createSsl(ca),
    credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new Metadata();
      if (token) md.set("authorization", `Bearer ${token}`);
      cb(null, md);
    }),
  );

/** A minimal request of every method (the HTTP API's tests send them as proto3 JSON too). */
export const MINIMAL_REQUESTS: Record<ControlPlaneMethod, unknown> = {
  ApplyWorkload: { workload: { name: "authz", labels: {}, spec: spec(), generation: 0 } },
  ApplyWorkloads: { workloads: [{ name: "authz-2", labels: {}, spec: spec(), generation: 0 }] },
  GetWorkload: { name: "authz" },
  ListWorkloads: { pageSize: 0, pageToken: "" },
  DeleteWorkload: { name: "authz" },
  ListNodes: { pageSize: 0, pageToken: "" },
  GetNode: { name: "node-a" },
  ListInstances: { workload: "", pageSize: 0, pageToken: "" },
  ListEndpoints: { workload: "", pageSize: 0, pageToken: "" },
  WatchEndpoints: { workload: "" },
  CordonNode: { name: "node-a" },
  UncordonNode: { name: "node-a" },
  DrainNode: { name: "node-a" },
  RestartWorkload: { name: "authz" },
  RunWorkload: { name: "authz" },
  RollbackWorkload: { name: "authz", toRevision: 0 },
  PromoteRollout: { name: "authz" },
  PauseRollout: { name: "authz", paused: true },
  LiftQuarantine: { name: "authz", node: "" },
  Plan: { workload: { name: "authz", labels: {}, spec: spec(), generation: 0 } },
  GetHistory: { workload: "authz", limit: 0, pageSize: 0, pageToken: "" },
  Watch: { afterSequence: 0, workload: "" },
  Logs: { workload: "authz", instance: "", follow: false, tail: 0 },
  RotateToken: { kind: TokenKind.TOKEN_KIND_JOIN },
  CreateToken: { kind: TokenKind.TOKEN_KIND_READONLY, ttlMs: 0, uses: 0 },
  ListTokens: {},
  RevokeToken: { id: "sha256:000000000000" },
  ApproveNode: { name: "node-a" },
  RemoveNode: { name: "node-never-enrolled" },
  ListControlPlanes: {},
  SaveSnapshot: {},
  PutSecret: { name: "authz-secret", data: { password: new TextEncoder().encode("authz-value") }, create: true },
  ListSecrets: {},
  DeleteSecret: { name: "authz-secret-never" },
  PutConfig: { name: "authz-config", data: { "app.conf": new TextEncoder().encode("a=1") }, create: true },
  ListConfigs: {},
  DeleteConfig: { name: "authz-config-never" },
  RotateClusterKey: {},
  Exec: { request: { $case: "start", value: { workload: "authz", instance: "", command: ["true"], stdin: false } } },
};

export function invoke(c: ControlPlaneClient, method: ControlPlaneMethod): Promise<status> {
  const requests = MINIMAL_REQUESTS;
  const name = method.charAt(0).toLowerCase() + method.slice(1);
  const fn = (c as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
  return new Promise((resolve) => {
    if (method === "Exec") {
      const call = c.exec(new Metadata(), { deadline: new Date(Date.now() + 5_000) });
      call.on("data", () => {});
      call.on("error", (e: { code: status }) => resolve(e.code));
      call.on("end", () => resolve(status.OK));
      call.write(requests.Exec as ExecRequest);
      return;
    }
    if (method === "Watch" || method === "WatchEndpoints" || method === "Logs" || method === "SaveSnapshot") {
      const call = fn.call(c, requests[method], new Metadata(), { deadline: new Date(Date.now() + 500) }) as NodeJS.EventEmitter;
      call.on("data", () => {});
      call.on("error", (e: { code: status }) => resolve(e.code));
      call.on("end", () => resolve(status.OK));
      return;
    }
    fn.call(c, requests[method], new Metadata(), { deadline: new Date(Date.now() + 5_000) }, (e: { code: status } | null) => resolve(e ? e.code : status.OK));
  });
}
