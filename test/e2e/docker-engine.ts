/**
 * What tests and benchmarks against a real Docker engine share: a shell helper, whether an
 * engine answers, which tests skip without one, and the test image. No registry is reachable:
 * the image is a busybox rootfs made with `docker import` from the host's busybox.
 */
import { needTools, type ToolNeed } from "../system-packages/need.js";

export const IMAGE = "tessera-test/busybox:1";

export function sh(cmd: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

export function dockerAvailable(): boolean {
  return Bun.which("docker") !== null && sh(["docker", "version", "--format", "{{.Server.Version}}"]).code === 0;
}

/**
 * Tests against the engine need docker and busybox (the test image is made from it) and an
 * engine that answers (`make test` starts one as root): without them they skip saying why, and
 * under TESSERA_CI=1 they run, their setup failing at `require()`.
 */
export function dockerSuite(what: string): ToolNeed {
  return needTools(what, ["docker", "busybox"], () => (dockerAvailable() ? undefined : "no Docker engine answers (make test starts dockerd when run as root)"));
}

/** Builds the test image from the host's busybox when it is missing. */
export function ensureImage(): void {
  if (sh(["docker", "image", "inspect", IMAGE]).code === 0) return;
  const busybox = Bun.which("busybox");
  if (!busybox) throw new Error("busybox is not installed (Debian package busybox-static)");
  const script = `set -e; d=$(mktemp -d); mkdir -p $d/bin; cp ${busybox} $d/bin/busybox; for c in sh sleep echo cat ls env true false; do ln -s busybox $d/bin/$c; done; tar -C $d -c . | docker import -c 'ENV PATH=/bin' - ${IMAGE}; rm -rf $d`;
  const r = sh(["sh", "-c", script]);
  if (r.code !== 0) throw new Error(`cannot build ${IMAGE}: ${r.out}`);
}
