/**
 * @module Where this node stands in a transport's ingress file, as stored: under its own key (`fileCursorKey`), or —
 * on its first read after cursors became per node — under the transport's, where it wrote before (so an upgrade
 * continues where it was instead of reading the file again from the start).
 */
import { fileCursorKey, type TauConfig } from "../config/index.ts";
import type { CursorRow, Store } from "../store/index.ts";

export function storedFileCursor(
  runner: Pick<Store["runner"], "cursor">,
  config: Pick<TauConfig, "cluster" | "store">,
  transport: string,
): CursorRow | undefined {
  const key = fileCursorKey(config, transport);
  return runner.cursor(key) ?? (key !== transport ? runner.cursor(transport) : undefined);
}
