/**
 * @module The ingress writer: whole NDJSON lines appended under an exclusive cross-process lock, with
 * group commit — appends that arrive while an fsync is in flight are coalesced into the next write, with
 * no fixed wait window. A promise resolves only after its lines are on disk.
 */
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { EnvelopeSchema, type Envelope, type Transport } from "../contracts/envelope.ts";
import { ValidationError } from "../contracts/errors.ts";
import type { IngressSink } from "../contracts/ingress.ts";
import { ensurePrivateDir, openShortLock, type ShortLock } from "../store/index.ts";

const fdatasync = promisify(fs.fdatasync);

export interface IngressWriterOptions {
  ingressDir: string;
  maxLineBytes: number;
  /** Skip schema validation for envelopes the caller just produced with a normalizer (which validates). */
  trustEnvelopes?: boolean;
}

export interface IngressWriterStats {
  events: number;
  batches: number;
  fsyncs: number;
}

/** Handle given to connectors (as an `IngressSink`): append envelopes durably. */
export interface IngressWriter extends IngressSink {
  /** Resolves once every line is written and fsynced; rejects (writing nothing) if an envelope is invalid. */
  append(transport: Transport, envelopes: readonly Envelope[]): Promise<void>;
  stats(): IngressWriterStats;
  /**
   * Whether an append could be acknowledged now, for `/readyz` (absent: always, as for local files). A writer that
   * connects on first use starts connecting when asked, so a node that takes no traffic until ready gets ready.
   */
  readiness?(): { code: string; ok: boolean };
  close(): Promise<void>;
}

interface Pending {
  buf: Buffer;
  count: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface FileState {
  file: string;
  fd: number | null;
  ino: number;
  queue: Pending[];
  flushing: boolean;
}

/** Path of a transport's ingress file. */
export function ingressFile(ingressDir: string, transport: Transport): string {
  return path.join(ingressDir, `${transport}.ndjson`);
}

/** Serialize envelopes as NDJSON, refusing invalid or oversized ones before anything is written. */
export function encodeEnvelopes(envelopes: readonly Envelope[], maxLineBytes: number, validate: boolean): Buffer {
  const lines: string[] = [];
  for (const [i, env] of envelopes.entries()) {
    if (validate) {
      const r = EnvelopeSchema.safeParse(env);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        throw new ValidationError("INGRESS_ENVELOPE_INVALID", `envelope ${i}: ${issue.path.join(".")}: ${issue.message}`);
      }
    }
    const line = JSON.stringify(env);
    if (Buffer.byteLength(line) + 1 > maxLineBytes) {
      throw new ValidationError("INGRESS_LINE_TOO_LARGE", `envelope ${i} (${env.event_id}) exceeds ${maxLineBytes} bytes`);
    }
    lines.push(line);
  }
  return Buffer.from(lines.join("\n") + "\n");
}

/** Create the writer. One per process is enough; it serializes per file and locks across processes. */
export function createIngressWriter(opts: IngressWriterOptions): IngressWriter {
  ensurePrivateDir(opts.ingressDir);
  const lock: ShortLock = openShortLock(path.join(opts.ingressDir, ".lock"));
  const files = new Map<Transport, FileState>();
  const stats: IngressWriterStats = { events: 0, batches: 0, fsyncs: 0 };
  let closed = false;

  function stateFor(transport: Transport): FileState {
    let s = files.get(transport);
    if (!s) {
      s = { file: ingressFile(opts.ingressDir, transport), fd: null, ino: -1, queue: [], flushing: false };
      files.set(transport, s);
    }
    return s;
  }

  /** Under the lock: make sure our fd is the file currently at the path (the runner may have rotated it). */
  function currentFd(s: FileState): number {
    let ino = -1;
    try {
      ino = fs.statSync(s.file).ino;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (s.fd !== null && ino === s.ino) return s.fd;
    if (s.fd !== null) fs.closeSync(s.fd);
    const fd = fs.openSync(s.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
    s.fd = fd;
    s.ino = fs.fstatSync(fd).ino;
    if (ino === -1) {
      // A new directory entry must itself be durable before we acknowledge lines in it.
      const dirFd = fs.openSync(opts.ingressDir, "r");
      try {
        fs.fsyncSync(dirFd);
      } finally {
        fs.closeSync(dirFd);
      }
    }
    return fd;
  }

  async function flush(s: FileState): Promise<void> {
    s.flushing = true;
    try {
      while (s.queue.length > 0) {
        // Let appends made in reaction to the previous fsync (same event-loop turn) join this batch. This is not a
        // wait window: one macrotask turn, no timer.
        await new Promise<void>((r) => setImmediate(r));
        const batch = s.queue.splice(0, s.queue.length);
        const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((p) => p.buf));
        try {
          const fd = lock.withLock(() => {
            const fd = currentFd(s);
            let off = 0;
            while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
            return fd;
          });
          // fsync outside the lock: other writers keep appending while the disk works.
          await fdatasync(fd);
          stats.fsyncs += 1;
          stats.batches += 1;
          for (const p of batch) {
            stats.events += p.count;
            p.resolve();
          }
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      s.flushing = false;
    }
  }

  return {
    append(transport, envelopes) {
      if (closed) return Promise.reject(new Error("ingress writer is closed"));
      if (envelopes.length === 0) return Promise.resolve();
      let buf: Buffer;
      try {
        buf = encodeEnvelopes(envelopes, opts.maxLineBytes, !opts.trustEnvelopes);
      } catch (err) {
        return Promise.reject(err);
      }
      const s = stateFor(transport);
      return new Promise<void>((resolve, reject) => {
        s.queue.push({ buf, count: envelopes.length, resolve, reject });
        if (!s.flushing) void flush(s);
      });
    },
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      for (const s of files.values()) {
        while (s.flushing || s.queue.length > 0) await new Promise((r) => setImmediate(r));
        if (s.fd !== null) fs.closeSync(s.fd);
        s.fd = null;
      }
      lock.close();
    },
  };
}
