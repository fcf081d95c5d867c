/** Shared types, errors, parameter parsing and waiting for the local Telegram Bot API server (PROVIDERS.md §1.1, §1.7). */
import type http from "node:http";
import type { FaultKind } from "./http-faults.ts";

export type { TelegramEntity } from "./telegram-bot-api-server-markup.ts";
import type { TelegramEntity } from "./telegram-bot-api-server-markup.ts";

export type Json = Record<string, unknown>;

export interface TelegramUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
  [k: string]: unknown;
}
export interface TelegramChat {
  id: number;
  type: "private" | "group" | "supergroup" | "channel";
  title?: string;
  username?: string;
  first_name?: string;
  is_forum?: boolean;
  [k: string]: unknown;
}
export interface TelegramUpdate {
  update_id: number;
  [k: string]: unknown;
}
export interface TelegramRecordedRequest {
  httpMethod: string;
  path: string;
  token: string | null;
  /** API method exactly as sent (grammY keeps camelCase); null for file downloads and unknown paths. */
  method: string | null;
  params: Json;
  files: Record<string, { filename: string; contentType: string; data: Buffer }>;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  at: number;
  status?: number;
  response?: unknown;
  /** The injected fault this request met (`failNext`, `dropNext`, a fault plan, …), if any. */
  fault?: FaultKind;
}
export interface TelegramSentMessage {
  method: string;
  chat_id: number;
  message_id: number;
  text?: string;
  caption?: string;
  entities: TelegramEntity[];
  message_thread_id?: number;
  params: Json;
  message: Json;
}
export interface TelegramWebhookState {
  url: string;
  secret_token?: string;
  max_connections: number;
  allowed_updates?: string[];
  ip_address?: string;
  last_error_date?: number;
  last_error_message?: string;
}
export interface TelegramWebhookDelivery {
  update_id: number;
  url: string;
  secretHeader?: string;
  status?: number;
  error?: string;
  at: number;
}
export interface TelegramFile {
  file_id: string;
  file_unique_id: string;
  file_size?: number;
  file_path?: string;
}
/** Which API method (case-insensitive) a fault applies to; omitted = the next request of any kind. */
export interface TelegramFaultMatch {
  method?: string;
  count?: number;
}
export interface TelegramFault extends TelegramFaultMatch {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export interface TelegramServerOptions {
  token?: string;
  botUser?: Partial<TelegramUser>;
  /** Clock in ms (callback-query and 24 h retention use it); defaults to Date.now() + advanceTime offset. */
  now?: () => number;
  /** When true, chats must be registered with addChat() (else 400 "chat not found"). Default false: auto-known. */
  strictChats?: boolean;
  chats?: TelegramChat[];
  firstUpdateId?: number;
  /** TG-SRV clamps getUpdates timeout to 0…50 s (§1.2). */
  maxLongPollSeconds?: number;
  /** Real Telegram only accepts HTTPS webhooks on 443/80/88/8443 (§1.3); locally http://127.0.0.1 is allowed unless false. */
  allowHttpWebhook?: boolean;
  webhookRetryDelayMs?: number;
  webhookTimeoutMs?: number;
  /** Listen on this port (default: any free one), e.g. where a client was refused before the server started. */
  port?: number;
}

export const CONFLICT_OTHER_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
export const CONFLICT_WEBHOOK_ACTIVE =
  "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
export const CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request";
export const NOT_MODIFIED =
  "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
/** allowed_updates=[] means "all except these" (§1.2). */
export const NOT_DEFAULT_UPDATES = new Set(["chat_member", "message_reaction", "message_reaction_count"]);
export const RETENTION_MS = 24 * 3600 * 1000;
export const MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly parameters?: Json,
  ) {
    super(description);
  }
}
export const bad = (d: string, parameters?: Json) => new ApiError(400, `Bad Request: ${d}`, parameters);

export const str = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
export const int = (v: unknown): number | undefined => {
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
};
export const bool = (v: unknown): boolean => v === true || v === "true" || v === "1" || v === 1;
export const json = (v: unknown): unknown => {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};
export const codePoints = (s: string) => [...s].length;

/**
 * Tolerant multipart/form-data parser: grammY writes `content-disposition:form-data;name="x";filename=a.txt`
 * (no spaces, unquoted filename), which TG-SRV accepts but undici's strict FormData parser rejects.
 */
export function parseMultipart(raw: Buffer, contentType: string) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2]?.trim();
  if (!boundary) throw bad("can't parse multipart/form-data request body");
  const delim = Buffer.from(`--${boundary}`);
  const parts: { name: string; filename?: string; contentType: string; data: Buffer }[] = [];
  let pos = raw.indexOf(delim);
  while (pos >= 0) {
    let start = pos + delim.length;
    if (raw.subarray(start, start + 2).toString() === "--") break;
    if (raw.subarray(start, start + 2).toString() === "\r\n") start += 2;
    const next = raw.indexOf(delim, start);
    if (next < 0) break;
    let end = next;
    if (raw.subarray(end - 2, end).toString() === "\r\n") end -= 2;
    const part = raw.subarray(start, end);
    const split = part.indexOf("\r\n\r\n");
    const head = split >= 0 ? part.subarray(0, split).toString("utf8") : "";
    const data = split >= 0 ? part.subarray(split + 4) : Buffer.alloc(0);
    const headers: Record<string, string> = {};
    for (const line of head.split("\r\n")) {
      const c = line.indexOf(":");
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    const disp = headers["content-disposition"] ?? "";
    const param = (key: string) => new RegExp(`(?:^|;)\\s*${key}=(?:"([^"]*)"|([^;]*))`, "i").exec(disp);
    const name = param("name");
    const filename = param("filename");
    if (name) {
      parts.push({
        name: name[1] ?? name[2]!.trim(),
        data,
        contentType: headers["content-type"] ?? "application/octet-stream",
        ...(filename ? { filename: filename[1] ?? filename[2]!.trim() } : {}),
      });
    }
    pos = next;
  }
  return parts;
}

export function updateType(u: Json): string | undefined {
  return Object.keys(u).find((k) => k !== "update_id");
}

/** Resolves waitUntil() promises whenever the server's state changes (no sleeping in tests). */
export class Waiters {
  private readonly listeners = new Set<() => void>();
  readonly changed = (): void => {
    for (const l of [...this.listeners]) l();
  };
  waitUntil<T>(cond: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const check = () => {
        try {
          const v = cond();
          if (v !== undefined && v !== null && v !== false) {
            cleanup();
            resolve(v);
          }
        } catch (e) {
          cleanup();
          reject(e);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`telegram server: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }
}

export type Reply = (
  res: http.ServerResponse,
  rec: TelegramRecordedRequest | null,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
) => void;
