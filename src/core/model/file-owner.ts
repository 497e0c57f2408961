/**
 * Who a container's secret and config files belong to. PURE. A container runs as its image's
 * USER; files the agent writes 0400 as root are unreadable to any other user, so they are made
 * that user's when the image names it by number (`USER 1000` or `USER 1000:1000`). A name
 * (`USER nginx`) means a uid only the image's /etc/passwd knows: the files stay the agent's.
 */

export interface FileOwner {
  uid: number;
  /** Unset: the agent's own group (only the owner reads a 0400 file). */
  gid?: number;
}

const NUMERIC_USER = /^(\d{1,10})(?::(\d{1,10}))?$/;

/** The owner of a container's files from its image's USER; undefined for root, a name, or none. */
export function fileOwnerOf(user: string): FileOwner | undefined {
  const m = NUMERIC_USER.exec(user.trim());
  if (!m) return undefined;
  const uid = Number(m[1]);
  if (uid === 0 || uid > 0xffffffff - 1) return undefined;
  return m[2] === undefined ? { uid } : { uid, gid: Number(m[2]) };
}
