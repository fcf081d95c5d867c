/**
 * @module The shape of a webhook route a connector hands to the HTTP server: `src/server` mounts it without
 * importing connectors, and connectors depend on no web framework.
 */

/** HTTP methods webhook routes use. */
export type WebhookMethod = "GET" | "POST";

/**
 * The part of a Hono `Context` a webhook handler uses: the Fetch API request and the parsed query. Declared
 * here structurally, so connectors depend on no web framework and any Hono context satisfies it.
 */
export interface WebhookContext {
  req: {
    raw: Request;
    query(): Record<string, string>;
  };
}

/** One route the server mounts as-is: `app.on(method, path, handler)`. */
export interface WebhookRoute {
  method: WebhookMethod;
  /** Absolute path, e.g. `/webhooks/telegram`. */
  path: string;
  handler(c: WebhookContext): Response | Promise<Response>;
}
