/**
 * @module Rotate a consumed ingress file, safely while writers append: under the ingress lock, only if the
 * file at the path is still the one the cursor read to its end. Writers notice the new inode under the
 * same lock and reopen. Old files go to `ingress/archive/` (the newest few are kept for forensics).
 */
import fs from "node:fs";
import path from "node:path";
import type { IngressCursor } from "../ingress/index.ts";
import type { ShortLock } from "../store/index.ts";

export function rotateIfConsumed(input: {
  file: string;
  cursor: IngressCursor;
  /** The ingress lock, opened only when a rotation is due (a node may have no ingress folder yet). */
  lock: () => ShortLock;
  minBytes: number;
  keep: number;
  now: number;
}): string | null {
  const { file, cursor } = input;
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!st || st.ino !== cursor.ino || st.size !== cursor.offset || st.size === 0 || st.size < input.minBytes) return null;
  const archiveDir = path.join(path.dirname(file), "archive");
  const base = path.basename(file, ".ndjson");
  const target = path.join(archiveDir, `${base}-${input.now}-${st.ino}.ndjson`);
  const moved = input.lock().withLock(() => {
    const again = fs.statSync(file);
    if (again.ino !== cursor.ino || again.size !== cursor.offset) return false; // a writer appended meanwhile
    fs.mkdirSync(archiveDir, { recursive: true, mode: 0o700 });
    fs.renameSync(file, target);
    return true;
  });
  if (!moved) return null;
  const old = fs
    .readdirSync(archiveDir)
    .filter((f) => f.startsWith(`${base}-`))
    .sort((a, b) => Number(a.split("-")[1]) - Number(b.split("-")[1]));
  for (const f of old.slice(0, Math.max(0, old.length - input.keep))) fs.rmSync(path.join(archiveDir, f), { force: true });
  return target;
}
