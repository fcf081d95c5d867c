/**
 * @module The quarantine for provider items a connector refused at intake (PRODUCT.md §4): one line per item in
 * `state/quarantine/<transport>.ndjson` (the file the runner quarantines malformed ingress lines to), fsynced before
 * the connector acknowledges the provider, plus a row in the quarantine table. The good items of the same payload
 * are appended as usual, so one bad message never costs the others.
 */
import fs from "node:fs";
import path from "node:path";
import type { Transport } from "../contracts/envelope.ts";
import type { IntakeRefusal, QuarantineSink } from "../contracts/ingress.ts";

/** A refused item larger than this (as JSON) is recorded without its body (`raw_bytes` says how large it was). */
const MAX_RAW_BYTES = 65_536;

interface IntakeQuarantineDeps {
  stateDir: string;
  clock: () => number;
  /** The quarantine table (`store.runner.insertQuarantine`). */
  record(transport: string, file: string, line: number, reason: string, detail: string, atMs: number): void;
}

/** The quarantine line of one refused item: `file` is `intake:<source>` (no ingress line: it never got there). */
function lineOf(transport: Transport, item: IntakeRefusal, now: number): string {
  const base = { at_ms: now, transport, file: `intake:${item.source}`, line: 0, reason: item.reason, detail: item.detail };
  if (item.raw === undefined) return JSON.stringify(base);
  const raw = JSON.stringify(item.raw) ?? "null";
  const size = Buffer.byteLength(raw);
  return size <= MAX_RAW_BYTES ? JSON.stringify({ ...base, raw: item.raw }) : JSON.stringify({ ...base, raw_bytes: size });
}

export function createIntakeQuarantine(deps: IntakeQuarantineDeps): QuarantineSink {
  const dir = path.join(deps.stateDir, "quarantine");
  return {
    async quarantine(transport, items) {
      if (items.length === 0) return;
      const now = deps.clock();
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
      const fh = await fs.promises.open(path.join(dir, `${transport}.ndjson`), "a", 0o600);
      try {
        await fh.writeFile(items.map((i) => lineOf(transport, i, now)).join("\n") + "\n");
        await fh.datasync();
      } finally {
        await fh.close();
      }
      for (const i of items) deps.record(transport, `intake:${i.source}`, 0, i.reason, i.detail.slice(0, 1000), now);
    },
  };
}
