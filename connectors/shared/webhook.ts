/**
 * @module The shape of a webhook route a connector hands to the HTTP server (`src/server` mounts it without
 * importing connectors), and the bounded body reader every webhook handler uses before trusting a byte.
 */

export type { WebhookContext, WebhookMethod, WebhookRoute } from "../../src/contracts/webhook-route.ts";

/** The body was larger than allowed; the caller answers 413 (and the connection is closed). */
export const BODY_TOO_LARGE = Symbol("body_too_large");

/** Error name the server's body-limit middleware uses when a streamed body crosses its limit. */
const BODY_LIMIT_ERROR_NAME = "BodyLimitError";

/**
 * Read a request body as raw bytes, refusing it as soon as it exceeds `maxBytes`: first by Content-Length
 * (nothing is read), then by counting bytes while streaming (chunked bodies), cancelling the stream.
 */
export async function readBodyLimited(req: Request, maxBytes: number): Promise<Buffer | typeof BODY_TOO_LARGE> {
  const declared = req.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) return BODY_TOO_LARGE;
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return BODY_TOO_LARGE;
      }
      chunks.push(value);
    }
  } catch (err) {
    // The server's streaming limit errors the body stream; anything else is a broken request.
    if (err instanceof Error && err.name === BODY_LIMIT_ERROR_NAME) return BODY_TOO_LARGE;
    throw err;
  }
  return Buffer.concat(chunks, total);
}

/** 413 that also closes the connection, so an oversized upload is not drained. */
export function payloadTooLarge(): Response {
  return new Response(null, { status: 413, headers: { connection: "close" } });
}

/** Parse JSON bytes; `undefined` when they are not JSON (the caller answers 400). */
export function parseJsonBytes(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}
