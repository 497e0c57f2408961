/**
 * Build script (not part of the binary): compiles dist/tessera with Bun.build.
 *
 * grpc-health-check and @grpc/reflection read their .proto files from node_modules at run
 * time, which a compiled binary copied to another machine does not have. A build plugin
 * replaces each of those loadSync(path) calls with proto-loader's fromJSON(the same
 * definitions, parsed here at build time). If a library changes that call, the build fails
 * loudly instead of shipping a binary that crashes on another machine.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BunPlugin } from "bun";
import protobuf from "protobufjs";

const ROOT = join(import.meta.dir, "..");

interface Patch {
  /** The module whose runtime proto loading is replaced. */
  module: RegExp;
  /** The exact call text in that module. */
  call: string;
  /** The same call reading the inlined definitions. */
  replacement: (json: string) => string;
  proto: string;
  /** As the library loads it (proto-loader's keepCase option). */
  keepCase: boolean;
}

const PATCHES: Patch[] = [
  {
    module: /grpc-health-check[\\/]build[\\/]src[\\/]health\.js$/,
    call: "(0, proto_loader_1.loadSync)('health/v1/health.proto', {",
    replacement: (json) => `(0, proto_loader_1.fromJSON)(${json}, {`,
    proto: "node_modules/grpc-health-check/proto/health/v1/health.proto",
    keepCase: true,
  },
  {
    module: /@grpc[\\/]reflection[\\/]build[\\/]src[\\/]implementations[\\/]reflection-v1\.js$/,
    call: "protoLoader.loadSync(protoPath, constants_1.PROTO_LOADER_OPTS)",
    replacement: (json) => `protoLoader.fromJSON(${json}, constants_1.PROTO_LOADER_OPTS)`,
    proto: "node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
    keepCase: false,
  },
  {
    module: /@grpc[\\/]reflection[\\/]build[\\/]src[\\/]implementations[\\/]reflection-v1alpha\.js$/,
    call: "protoLoader.loadSync(protoPath, constants_1.PROTO_LOADER_OPTS)",
    replacement: (json) => `protoLoader.fromJSON(${json}, constants_1.PROTO_LOADER_OPTS)`,
    proto: "node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto",
    keepCase: false,
  },
];

const inlineProtos: BunPlugin = {
  name: "inline-grpc-protos",
  setup(build) {
    for (const patch of PATCHES) {
      build.onLoad({ filter: patch.module }, ({ path }) => {
        const source = readFileSync(path, "utf8");
        if (!source.includes(patch.call)) throw new Error(`${path}: expected to find ${patch.call}; the library changed, update cli/build.ts`);
        const parsed = protobuf.parse(readFileSync(join(ROOT, patch.proto), "utf8"), new protobuf.Root(), { keepCase: patch.keepCase });
        const json = JSON.stringify(parsed.root.toJSON());
        return { contents: source.replace(patch.call, patch.replacement(json)), loader: "js" };
      });
    }
  },
};

/**
 * How the binary is compiled, apart from what it contains. The footprint benchmark compiles a
 * hello-world with the same settings to tell the Bun runtime's share from ours.
 *
 * splitting: each lazily imported module (the commands of cli/main.ts, the control plane,
 * agent and dockerode of cli/server-commands.ts and cli/agent-executors.ts) becomes its own chunk of the embedded bundle,
 * read only when imported. As one file, every process paged in and held bytecode and
 * function records of all modes (the control plane's X.509 and SQLite, dockerode with ssh2)
 * whichever mode it ran: an idle agent held ~2 MiB more (BENCHMARKS.md, Footprint).
 */
export const COMPILE_SETTINGS = { minify: true, bytecode: true, format: "esm", target: "bun", splitting: true } as const;

if (import.meta.main) {
  const outfile = process.argv[2] ?? join(ROOT, "dist", "tessera");
  // The snapshot worker is an entrypoint of its own: a Worker's script is not found by following imports.
  const entrypoints = [join(ROOT, "cli", "main.ts"), join(ROOT, "src", "control", "store", "snapshot-worker.ts")];
  const result = await Bun.build({ entrypoints, compile: { outfile }, ...COMPILE_SETTINGS, plugins: [inlineProtos] });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    process.exit(1);
  }
  console.log(`built ${outfile}`);
}
