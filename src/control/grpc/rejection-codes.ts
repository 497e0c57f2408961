/** The one table mapping core rejections to wire codes: gRPC status codes, and HTTP statuses for the HTTP/JSON API and the web page's API. */
import { status } from "@grpc/grpc-js";
import { describeRejection, type Rejection } from "../../core/model/rejections.js";

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
  NotPeriodic: status.FAILED_PRECONDITION,
  RunExists: status.ALREADY_EXISTS,
  QuarantinedSpec: status.FAILED_PRECONDITION,
  NothingToPromote: status.FAILED_PRECONDITION,
  NotQuarantined: status.FAILED_PRECONDITION,
  UnknownRevision: status.NOT_FOUND,
  PermissionDenied: status.PERMISSION_DENIED,
  NotRunning: status.FAILED_PRECONDITION,
  NoEndedCopy: status.NOT_FOUND,
  NeverRan: status.NOT_FOUND,
  InvalidTransition: status.FAILED_PRECONDITION,
  NodeNameTaken: status.PERMISSION_DENIED,
  UnknownToken: status.NOT_FOUND,
  UnknownSecret: status.NOT_FOUND,
  SecretExists: status.ALREADY_EXISTS,
  SecretsChanged: status.ABORTED,
  EventsNotRetained: status.OUT_OF_RANGE,
};

/** A grpc-js service error for a rejection. */
export function rejectionError(r: Rejection): { code: status; details: string } {
  return { code: CODES[r.kind], details: describeRejection(r) };
}

/** gRPC status → HTTP status, as google/rpc/code.proto and grpc-gateway map them: the HTTP/JSON API's. */
export const HTTP_STATUS: Record<status, number> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

/** The web page's API: the same, but a refused change's precondition is a 409 Conflict, which the page shows as such. */
const PAGE_HTTP: Record<status, number> = { ...HTTP_STATUS, [status.FAILED_PRECONDITION]: 409 };

/** An HTTP status and message for a rejection. */
export function rejectionHttp(r: Rejection): { status: number; error: string } {
  return { status: PAGE_HTTP[CODES[r.kind]], error: describeRejection(r) };
}
