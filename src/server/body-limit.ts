/**
 * @module Request body limit for every route: 413 before the body is read in full. A declared
 * Content-Length over the limit is refused without reading a byte; a chunked body is counted while it
 * streams and cut off at the limit. The 413 closes the connection so the rest is not drained.
 */
import type { Context, MiddlewareHandler } from "hono";

/** Raised inside the body stream when a streamed body crosses the limit (name shared with connectors/shared/webhook.ts). */
export class BodyLimitError extends Error {
  constructor(readonly maxBytes: number) {
    super(`request body exceeds ${maxBytes} bytes`);
    this.name = "BodyLimitError";
  }
}

export function tooLarge(c: Context): Response {
  return c.body(null, 413, { connection: "close" });
}

export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const req = c.req.raw;
    if (req.method === "GET" || req.method === "HEAD" || req.body === null) return next();
    const declared = req.headers.get("content-length");
    if (declared !== null) {
      if (!/^\d+$/.test(declared.trim())) return c.body(null, 400, { connection: "close" });
      if (Number(declared) > maxBytes) return tooLarge(c);
      return next(); // Node's HTTP parser never delivers more than Content-Length bytes
    }
    let seen = 0;
    const counted = req.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > maxBytes) controller.error(new BodyLimitError(maxBytes));
          else controller.enqueue(chunk);
        },
      }),
    );
    c.req.raw = new Request(req, { body: counted, duplex: "half" } as RequestInit);
    await next();
    if (c.error instanceof BodyLimitError) c.res = tooLarge(c);
  };
}
