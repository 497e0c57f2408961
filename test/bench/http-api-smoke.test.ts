/** A small run of the HTTP/JSON API benchmark (13), so it cannot rot. No timing is asserted. */
import { beforeAll, expect, test } from "bun:test";
import { requireBinary } from "../e2e/harness.js";
import { runHttpApi } from "./http-api.js";

beforeAll(requireBinary);

test("http-api, smoke size: GET /v1/workloads/{name}, gRPC GetWorkload and both floors answer", async () => {
  const [run] = await runHttpApi(1, 5);
  for (const [key, value] of Object.entries(run!)) expect(value, key).toBeGreaterThan(0);
  expect(run!.httpP99).toBeGreaterThanOrEqual(run!.httpP50);
  expect(run!.grpcP99).toBeGreaterThanOrEqual(run!.grpcP50);
}, 60_000);
