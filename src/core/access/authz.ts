/**
 * Who may call what. PURE: one table of every ControlPlane method's access level, and the
 * decision for a caller's role. The shell finds the role (token hash, client certificate).
 */
import type { Rejection } from "../model/rejections.js";

export type Role = "admin" | "readonly" | "join";
export type Access = "read" | "write";

/** Every ControlPlane method, by access level. The compiler checks the list is complete. */
export const METHOD_ACCESS = {
  ApplyWorkload: "write",
  ApplyWorkloads: "write",
  GetWorkload: "read",
  ListWorkloads: "read",
  DeleteWorkload: "write",
  ListNodes: "read",
  GetNode: "read",
  ListInstances: "read",
  ListEndpoints: "read",
  WatchEndpoints: "read",
  CordonNode: "write",
  UncordonNode: "write",
  DrainNode: "write",
  RestartWorkload: "write",
  RunWorkload: "write",
  RollbackWorkload: "write",
  PromoteRollout: "write",
  PauseRollout: "write",
  LiftQuarantine: "write",
  Plan: "read",
  GetHistory: "read",
  Watch: "read",
  Logs: "read",
  Exec: "write",
  RotateToken: "write",
  CreateToken: "write",
  // Admin only although they change nothing: the list says which tokens could be tried.
  ListTokens: "write",
  RevokeToken: "write",
  ApproveNode: "write",
  RemoveNode: "write",
  ListControlPlanes: "read",
  // Admin only: a snapshot holds the cluster CA's key and the token files.
  SaveSnapshot: "write",
  PutSecret: "write",
  // Names, keys, sizes, versions: never a value (no call answers one).
  ListSecrets: "read",
  DeleteSecret: "write",
  PutConfig: "write",
  ListConfigs: "read",
  DeleteConfig: "write",
  RotateClusterKey: "write",
} as const satisfies Record<string, Access>;
export type ControlPlaneMethod = keyof typeof METHOD_ACCESS;

/** Refuses a call the role may not make; undefined when it may. */
export function authorize(role: Role | undefined, method: ControlPlaneMethod): Rejection | undefined {
  if (role === undefined) return { kind: "Unauthenticated", reason: "a valid token is required (--token, $TESSERA_TOKEN, or the data dir's admin-token)" };
  if (role === "join") return { kind: "PermissionDenied", reason: "a join token may only enroll a node" };
  if (METHOD_ACCESS[method] === "write" && role !== "admin") return { kind: "PermissionDenied", reason: `a ${role} token may not call ${method}` };
  return undefined;
}
