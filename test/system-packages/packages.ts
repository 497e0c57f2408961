/**
 * The one list of the Debian packages the tests need beyond Bun and npm: what each brings, and
 * which tests use it. `make test` installs the missing ones through install.ts when it runs as
 * root with apt-get; .ci/run installs the same names first, before Bun exists (need.test.ts
 * holds its list equal to this one); need.ts is how a test asks for one, skipping visibly when
 * it is missing, or failing under TESSERA_CI=1.
 */
import { existsSync } from "node:fs";

export interface SystemPackage {
  /** The Debian package. */
  name: string;
  /** What a test asks for (needTools). */
  tool: string;
  /** The programs it brings that the tests run: a command on PATH, or an absolute path. */
  programs: string[];
  /** The tests that need it. */
  tests: string[];
}

export const SYSTEM_PACKAGES = [
  { name: "dnsutils", tool: "dig", programs: ["dig"], tests: ["test/e2e/dns.test.ts", "test/lab/fleet.test.ts"] },
  { name: "protobuf-compiler", tool: "protoc", programs: ["protoc"], tests: ["test/contract/proto.test.ts"] },
  // The engine is started too (install.ts). Every dockerSuite needs it with busybox, from
  // which the test image is made (test/e2e/docker-engine.ts).
  { name: "docker.io", tool: "docker", programs: ["docker", "dockerd"], tests: ["test/e2e/docker-engine.ts"] },
  { name: "busybox-static", tool: "busybox", programs: ["busybox"], tests: ["test/e2e/docker-engine.ts", "test/lab/fleet.test.ts"] },
  { name: "iproute2", tool: "ip", programs: ["ip"], tests: ["test/lab/lab.ts"] },
  { name: "curl", tool: "curl", programs: ["curl"], tests: ["test/e2e/http-api.test.ts", "test/lab/fleet.test.ts"] },
  { name: "python3", tool: "python3", programs: ["python3"], tests: ["test/e2e/checks.test.ts"] },
  { name: "chromium", tool: "chromium", programs: ["/usr/bin/chromium"], tests: ["test/e2e/web.test.ts", "test/e2e/console.test.ts", "test/bench/web-smoke.test.ts"] },
  // Every postgresSuite: the PostgreSQL store's tests, standbys, the lease, the HA lab.
  { name: "postgresql", tool: "postgresql", programs: ["/usr/lib/postgresql/15/bin/initdb"], tests: ["test/e2e/postgres-server.ts"] },
] as const satisfies readonly SystemPackage[];

export type SystemTool = (typeof SYSTEM_PACKAGES)[number]["tool"];

/**
 * Whether a program is here: an absolute path that exists, or a command found on PATH or in
 * /usr/sbin and /sbin, which Debian leaves off a user's PATH (dockerd and ip are there).
 */
export function programFound(program: string): boolean {
  return program.startsWith("/") ? existsSync(program) : Bun.which(program, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` }) !== null;
}

/** The first program of a package that is not here, or undefined when it is installed. */
export function missingProgram(pkg: SystemPackage, found: (program: string) => boolean = programFound): string | undefined {
  return pkg.programs.find((p) => !found(p));
}

export function packageOf(tool: SystemTool): SystemPackage {
  return SYSTEM_PACKAGES.find((p) => p.tool === tool)!;
}
