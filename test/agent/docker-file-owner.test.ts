/**
 * Whose a container's secret files are (DockerExecutor.fileOwner): its image's numeric USER,
 * the image pulled first when the engine lacks it. Against a fake engine: no Docker needed.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { DockerExecutor } from "../../src/agent/docker-executor.js";
import type { StartRequest } from "../../src/agent/executor.js";
import { spec } from "../core/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-owner-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An engine whose images have these USERs; an image not in `present` is pulled first. */
function fakeEngine(users: Record<string, string>, present: Set<string>): { docker: Docker; pulled: string[] } {
  const pulled: string[] = [];
  const docker = {
    getImage: (name: string) => ({
      inspect: async () => {
        if (!present.has(name)) throw Object.assign(new Error("no such image"), { statusCode: 404 });
        return { Config: { User: users[name] } };
      },
    }),
    pull: async (name: string) => {
      pulled.push(name);
      present.add(name);
      return {};
    },
    modem: { followProgress: (_s: unknown, done: (e: Error | null) => void) => done(null) },
  } as unknown as Docker;
  return { docker, pulled };
}

const request = (image: string) => ({ spec: spec({ image }) }) as StartRequest;

test("a numeric USER owns the files; a name, root or none leaves them the agent's; an absent image is pulled first", async () => {
  const { docker, pulled } = fakeEngine({ "app:1": "1000:1000", "web:1": "nginx", "root:1": "", "late:1": "65534" }, new Set(["app:1", "web:1", "root:1"]));
  const executor = new DockerExecutor("n1", dir, docker);
  expect(await executor.fileOwner(request("app:1"))).toEqual({ uid: 1000, gid: 1000 });
  expect(await executor.fileOwner(request("web:1"))).toBeUndefined();
  expect(await executor.fileOwner(request("root:1"))).toBeUndefined();
  expect(await executor.fileOwner(request("late:1"))).toEqual({ uid: 65534 });
  expect(pulled).toEqual(["late:1"]);
});
