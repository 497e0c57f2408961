/**
 * Which permission bits a data dir or a secret file may carry. PURE: the shell stats the path
 * and passes its mode. A data dir holds the database, tokens, keys and copies' logs; a secret
 * file the CA's sealing secret. Neither may be readable or writable by anyone but its owner.
 */

/** Why `path` (a directory or a secret file, with `mode` as stat gives it) is refused, naming the fix; undefined when only its owner can use it. */
export function looseMode(path: string, mode: number, kind: "dir" | "file"): string | undefined {
  const perms = mode & 0o777;
  if ((perms & 0o077) === 0) return undefined;
  const who = perms & 0o007 ? "other users" : "its group";
  const what = perms & 0o022 ? "write" : perms & 0o044 ? "read" : kind === "dir" ? "enter" : "run";
  const fix = kind === "dir" ? `chmod 700 ${path}` : `chmod 600 ${path}`;
  return `${path}: ${who} can ${what} it (mode ${perms.toString(8).padStart(4, "0")}); only its owner may: ${fix}`;
}
