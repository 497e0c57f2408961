/**
 * What tests and benchmarks against a real Docker engine share: a shell helper, whether an
 * engine answers, the skip-or-fail convention, and the test image. No registry is reachable:
 * the image is a busybox rootfs made with `docker import` from the host's busybox.
 */

export const IMAGE = "tessera-test/busybox:1";

export function sh(cmd: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

export function dockerAvailable(): boolean {
  return Bun.which("docker") !== null && sh(["docker", "version", "--format", "{{.Server.Version}}"]).code === 0;
}

/**
 * Whether Docker tests skip: in CI (TESSERA_REQUIRE_DOCKER=1) a missing engine must fail them,
 * so they run (and their beforeAll asserts `available`); locally they skip with a visible message.
 */
export function dockerSuite(what: string): { available: boolean; skip: boolean } {
  const available = dockerAvailable();
  const skip = !available && process.env.TESSERA_REQUIRE_DOCKER !== "1";
  if (skip) console.warn(`SKIP ${what}: no Docker engine answers (set TESSERA_REQUIRE_DOCKER=1 to make this a failure)`);
  return { available, skip };
}

/** Builds the test image from the host's busybox when it is missing. */
export function ensureImage(): void {
  if (sh(["docker", "image", "inspect", IMAGE]).code === 0) return;
  const busybox = Bun.which("busybox");
  if (!busybox) throw new Error("busybox is not installed (apt-get install busybox-static)");
  const script = `set -e; d=$(mktemp -d); mkdir -p $d/bin; cp ${busybox} $d/bin/busybox; for c in sh sleep echo cat ls env true false; do ln -s busybox $d/bin/$c; done; tar -C $d -c . | docker import -c 'ENV PATH=/bin' - ${IMAGE}; rm -rf $d`;
  const r = sh(["sh", "-c", script]);
  if (r.code !== 0) throw new Error(`cannot build ${IMAGE}: ${r.out}`);
}
