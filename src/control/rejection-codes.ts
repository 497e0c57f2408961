/** The one table mapping core rejections to gRPC status codes. */
import { status } from "@grpc/grpc-js";
import { describeRejection, type Rejection } from "../core/rejections.js";

const CODES: { [K in Rejection["kind"]]: status } = {
  InvalidArgument: status.INVALID_ARGUMENT,
  UnknownWorkload: status.NOT_FOUND,
  WorkloadDeleting: status.FAILED_PRECONDITION,
  UnknownInstance: status.NOT_FOUND,
  WrongNode: status.PERMISSION_DENIED,
  StaleGeneration: status.FAILED_PRECONDITION,
  UnknownNode: status.NOT_FOUND,
  StaleSession: status.FAILED_PRECONDITION,
  NodeAlreadyConnected: status.ALREADY_EXISTS,
  SupersededReport: status.FAILED_PRECONDITION,
  Unauthenticated: status.UNAUTHENTICATED,
  NothingToUndo: status.FAILED_PRECONDITION,
  QuarantinedSpec: status.FAILED_PRECONDITION,
  NothingToPromote: status.FAILED_PRECONDITION,
  PermissionDenied: status.PERMISSION_DENIED,
  NotRunning: status.FAILED_PRECONDITION,
  NoEndedCopy: status.NOT_FOUND,
  NeverRan: status.NOT_FOUND,
  InvalidTransition: status.FAILED_PRECONDITION,
};

/** A grpc-js service error for a rejection. */
export function rejectionError(r: Rejection): { code: status; details: string } {
  return { code: CODES[r.kind], details: describeRejection(r) };
}
