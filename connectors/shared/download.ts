/**
 * @module Stream a download to a private file (0600) with a hard byte cap: the stream is cut off — and the partial
 * file removed — as soon as it passes the cap, whatever size the server declared. Used by every platform's media
 * source; the caller redacts tokens from anything it reports.
 */
import fs from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import type { DownloadOutcome } from "../../src/contracts/media.ts";

class TooLarge extends Error {}

/** Write `body` to `dest` (created 0600, replaced if present); at most `maxBytes`. */
export async function streamToFile(
  body: ReadableStream<Uint8Array> | NodeJS.ReadableStream,
  dest: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<DownloadOutcome> {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) return done(new TooLarge());
      done(null, chunk);
    },
  });
  const source =
    body instanceof ReadableStream
      ? Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>)
      : (body as NodeJS.ReadableStream);
  try {
    fs.rmSync(dest, { force: true });
    // Opened here, not by the stream: a stream still opening when the cap is passed would create the file after the cleanup.
    const fd = fs.openSync(dest, "wx", 0o600);
    await pipeline(source, counter, fs.createWriteStream(dest, { fd }), { signal });
    return { ok: true, bytes };
  } catch (err) {
    fs.rmSync(dest, { force: true });
    if (err instanceof TooLarge)
      return { ok: false, reason: "media_attachment_limit_exceeded", detail: `download passed the cap of ${maxBytes} bytes` };
    if (signal.aborted) throw err;
    return { ok: false, reason: "media_provider_error", detail: `download failed: ${(err as Error).message}`.slice(0, 200) };
  }
}
