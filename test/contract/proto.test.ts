/**
 * The wire contract: every element of proto/tessera/v1 is documented, and the files compile
 * with standard code generators of other languages, unchanged.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { type DescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { needTools } from "../system-packages/need.js";

const ROOT = join(import.meta.dir, "..", "..");
const set = fromBinary(FileDescriptorSetSchema, readFileSync(join(ROOT, "src", "gen", "tessera.binpb")));
const ours = set.file.filter((f) => f.name.startsWith("tessera/v1/"));

/** Every documentable element as [source path, human name]. */
function elements(): Array<[number[], string]> {
  const out: Array<[number[], string]> = [];
  for (const file of ours) {
    const walkMessage = (m: DescriptorProto, path: number[], prefix: string) => {
      const name = `${prefix}${m.name}`;
      if (m.options?.mapEntry) return;
      out.push([path, `${file.name}: message ${name}`]);
      m.field.forEach((f, i) => out.push([[...path, 2, i], `${file.name}: field ${name}.${f.name}`]));
      m.oneofDecl.forEach((o, i) => {
        if (!o.name.startsWith("_")) out.push([[...path, 8, i], `${file.name}: oneof ${name}.${o.name}`]);
      });
      m.nestedType.forEach((n, i) => walkMessage(n, [...path, 3, i], `${name}.`));
    };
    file.messageType.forEach((m, i) => walkMessage(m, [4, i], ""));
    file.enumType.forEach((e, i) => {
      out.push([[5, i], `${file.name}: enum ${e.name}`]);
      e.value.forEach((v, j) => out.push([[5, i, 2, j], `${file.name}: enum value ${v.name}`]));
    });
    file.service.forEach((s, i) => {
      out.push([[6, i], `${file.name}: service ${s.name}`]);
      s.method.forEach((m, j) => out.push([[6, i, 2, j], `${file.name}: rpc ${s.name}.${m.name}`]));
    });
  }
  return out;
}

function commentAt(fileName: string, path: number[]): string {
  const file = ours.find((f) => fileName.startsWith(`${f.name}:`))!;
  const loc = file.sourceCodeInfo?.location.find((l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]));
  return (loc?.leadingComments ?? "").trim();
}

describe("proto contract", () => {
  test("is package tessera.v1 with its four files", () => {
    expect(ours.map((f) => f.name).sort()).toEqual(["tessera/v1/agent_gateway.proto", "tessera/v1/control_plane.proto", "tessera/v1/secrets.proto", "tessera/v1/types.proto"]);
    for (const f of ours) expect(f.package).toBe("tessera.v1");
  });

  test("every message, field, enum, value, service and rpc has a comment", () => {
    const all = elements();
    expect(all.length).toBeGreaterThan(80);
    const missing = all.filter(([path, name]) => commentAt(name, path) === "").map(([, name]) => name);
    expect(missing).toEqual([]);
  });

  test("AgentGateway.Connect is one bidirectional stream", () => {
    const gateway = ours.flatMap((f) => f.service).find((s) => s.name === "AgentGateway")!;
    const connect = gateway.method.find((m) => m.name === "Connect")!;
    expect([connect.clientStreaming, connect.serverStreaming, connect.inputType, connect.outputType]).toEqual([
      true,
      true,
      ".tessera.v1.AgentMessage",
      ".tessera.v1.ControlMessage",
    ]);
  });

  const protoc = needTools("standard C++/Java/Python codegen of the contract", ["protoc"]);
  test.skipIf(protoc.skip)("compiles unchanged with protoc's C++, Java and Python generators", () => {
    protoc.require();
    const out = mkdtempSync(join(tmpdir(), "tessera-protoc-"));
    try {
      const files = readdirSync(join(ROOT, "proto", "tessera", "v1")).map((f) => `tessera/v1/${f}`);
      const run = Bun.spawnSync(["protoc", "-I", join(ROOT, "proto"), `--cpp_out=${out}`, `--java_out=${out}`, `--python_out=${out}`, ...files]);
      expect(run.stderr.toString()).toBe("");
      expect(run.exitCode).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
