/** @module Test helper for connector tests: a temp ingress dir with the real writer, an in-memory cursor store, a capturing logger, bounded waits. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ConnectorDeps, ConnectorLogger, ConnectorStatus, CursorStore } from "../../connectors/shared/connector.ts";
import type { Envelope, Transport } from "../../src/contracts/envelope.ts";
import type { IngressSink } from "../../src/contracts/ingress.ts";
import { createIngressWriter, type IngressWriter } from "../../src/ingress/writer.ts";
import { TEST_IDENTITY } from "./identity.ts";

export interface LogRecord {
  level: "info" | "warn" | "error";
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps every record (tests assert on `event`/`code`, never on prose). */
export function captureLogger(): ConnectorLogger & { records: LogRecord[]; codes(): string[] } {
  const records: LogRecord[] = [];
  const log = (level: LogRecord["level"]) => (obj: Record<string, unknown>, msg?: string) => void records.push({ level, obj, msg });
  return {
    records,
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    codes: () => records.map((r) => r.obj["code"]).filter((c): c is string => typeof c === "string"),
  };
}

export function memoryCursors(initial: Record<string, string> = {}): CursorStore & { data: Map<string, string> } {
  const data = new Map(Object.entries(initial));
  return { data, get: (k) => data.get(k), put: (k, v) => void data.set(k, v) };
}

/** Poll `cond` every 10 ms until it is truthy or `timeoutMs` passes (then throw with `what`). */
export async function waitFor<T>(cond: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Harness {
  dir: string;
  ingressDir: string;
  writer: IngressWriter;
  cursors: ReturnType<typeof memoryCursors>;
  logger: ReturnType<typeof captureLogger>;
  statuses: ConnectorStatus[];
  /** Envelopes in `ingress/<transport>.ndjson`, in file order. */
  read(transport: Transport): Envelope[];
  /** ConnectorDeps over this harness; `secrets` maps integration ids to values. */
  deps(secrets: Record<string, string>, overrides?: Partial<ConnectorDeps>): ConnectorDeps;
  cleanup(): Promise<void>;
}

export function makeHarness(): Harness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-conn-"));
  const ingressDir = path.join(dir, "ingress");
  const writer = createIngressWriter({ ingressDir, maxLineBytes: 1 << 20 });
  const cursors = memoryCursors();
  const logger = captureLogger();
  const statuses: ConnectorStatus[] = [];
  return {
    dir,
    ingressDir,
    writer,
    cursors,
    logger,
    statuses,
    read(transport) {
      const file = path.join(ingressDir, `${transport}.ndjson`);
      if (!fs.existsSync(file)) return [];
      return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Envelope);
    },
    deps(secrets, overrides = {}) {
      return {
        ingress: writer,
        cursors,
        identity: TEST_IDENTITY,
        logger,
        clock: Date.now,
        secret: (id) => secrets[id] ?? null,
        onStatus: (s) => void statuses.push(s),
        ...overrides,
      };
    },
    async cleanup() {
      await writer.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An ingress sink that refuses every append (a full disk, a broken volume). */
export function failingSink(): IngressSink & { calls: number } {
  const sink = {
    calls: 0,
    append(): Promise<void> {
      sink.calls += 1;
      return Promise.reject(new Error("ENOSPC: no space left on device"));
    },
  };
  return sink;
}
