/** Update queue, getUpdates long polling and webhook delivery for the local Telegram Bot API server (PROVIDERS.md §1.2, §1.3). */
import http from "node:http";
import {
  ApiError,
  bad,
  bool,
  CONFLICT_OTHER_POLL,
  CONFLICT_SET_WEBHOOK,
  CONFLICT_WEBHOOK_ACTIVE,
  int,
  json,
  NOT_DEFAULT_UPDATES,
  RETENTION_MS,
  str,
  updateType,
  type Json,
  type Reply,
  type TelegramRecordedRequest,
  type TelegramUpdate,
  type TelegramWebhookDelivery,
  type TelegramWebhookState,
} from "./telegram-bot-api-server-common.ts";

type Parked = { res: http.ServerResponse; rec: TelegramRecordedRequest; limit: number; timer: NodeJS.Timeout };

export interface UpdatesDeps {
  now: () => number;
  changed: () => void;
  reply: Reply;
  maxLongPollSeconds: number;
  allowHttpWebhook: boolean;
  webhookRetryDelayMs: number;
  webhookTimeoutMs: number;
  firstUpdateId: number;
}

export class TelegramUpdates {
  readonly queue: { update: TelegramUpdate; at: number }[] = [];
  readonly filteredUpdates: TelegramUpdate[] = [];
  readonly webhookDeliveries: TelegramWebhookDelivery[] = [];
  webhook: TelegramWebhookState | null = null;
  private parked: Parked | null = null;
  private allowedUpdates: string[] = [];
  private nextUpdateId: number;
  private readonly inflight = new Set<number>();
  private readonly deliveryAborts = new Set<AbortController>();
  private closed = false;

  constructor(private readonly d: UpdatesDeps) {
    this.nextUpdateId = d.firstUpdateId;
  }

  get isPollParked(): boolean {
    return this.parked !== null;
  }

  /** allowed_updates=[] means every type except chat_member / message_reaction(_count) (§1.2). */
  private isAllowed(type: string | undefined): boolean {
    if (type === undefined) return false;
    return this.allowedUpdates.length === 0 ? !NOT_DEFAULT_UPDATES.has(type) : this.allowedUpdates.includes(type);
  }

  private unpark(): Parked | null {
    const p = this.parked;
    if (p) {
      clearTimeout(p.timer);
      this.parked = null;
      this.d.changed();
    }
    return p;
  }

  /** Queues an update; returns its update_id, or undefined when allowed_updates filters it out (it is then never created). */
  push(update: Omit<TelegramUpdate, "update_id"> & { update_id?: number }): number | undefined {
    const u = { ...update } as TelegramUpdate;
    if (typeof update.update_id === "number") {
      u.update_id = update.update_id;
      this.nextUpdateId = Math.max(this.nextUpdateId, update.update_id + 1);
    } else u.update_id = this.nextUpdateId++;
    if (!this.isAllowed(updateType(u))) {
      this.filteredUpdates.push(u);
      return undefined;
    }
    this.queue.push({ update: u, at: this.d.now() });
    const p = this.unpark();
    if (p) this.d.reply(p.res, p.rec, 200, { ok: true, result: this.take(p.limit) });
    this.pumpWebhook();
    this.d.changed();
    return u.update_id;
  }

  private take(limit: number): TelegramUpdate[] {
    return this.queue.slice(0, limit).map((q) => q.update);
  }

  /** §1.2 "an update is confirmed as soon as getUpdates is called with an offset higher than its update_id"; negative = from the end. */
  private confirm(offset: number) {
    const cutoff = this.d.now() - RETENTION_MS; // undelivered updates are kept at most 24 h
    while (this.queue.length && this.queue[0]!.at < cutoff) this.queue.shift();
    if (offset > 0) {
      while (this.queue.length && this.queue[0]!.update.update_id < offset) this.queue.shift();
    } else if (offset < 0) {
      this.queue.splice(0, Math.max(0, this.queue.length + offset));
    }
  }

  /** Returns the updates to answer now, or "parked" when the request became the (single) long poll. */
  getUpdates(p: Json, res: http.ServerResponse, rec: TelegramRecordedRequest): TelegramUpdate[] | "parked" {
    if (this.webhook) throw new ApiError(409, CONFLICT_WEBHOOK_ACTIVE);
    const older = this.unpark();
    if (older) this.d.reply(older.res, older.rec, 409, { ok: false, error_code: 409, description: CONFLICT_OTHER_POLL });
    const limit = Math.min(100, Math.max(1, int(p["limit"]) ?? 100));
    const timeout = Math.min(this.d.maxLongPollSeconds, Math.max(0, int(p["timeout"]) ?? 0));
    const allowed = json(p["allowed_updates"]);
    if (Array.isArray(allowed)) this.allowedUpdates = allowed.map(String);
    this.confirm(int(p["offset"]) ?? 0);
    const updates = this.take(limit);
    if (updates.length || timeout === 0) return updates;
    const timer = setTimeout(() => {
      if (this.parked?.res === res) {
        this.unpark();
        this.d.reply(res, rec, 200, { ok: true, result: [] });
      }
    }, timeout * 1000);
    this.parked = { res, rec, limit, timer };
    // grammY's bot.stop() aborts the parked request: forget it when the client goes away.
    res.on("close", () => {
      if (this.parked?.res === res) this.unpark();
    });
    this.d.changed();
    return "parked";
  }

  setWebhook(p: Json): string {
    const url = str(p["url"]) ?? "";
    if (url === "") return this.deleteWebhook(p);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw bad("invalid webhook URL specified");
    }
    if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && this.d.allowHttpWebhook)) {
      throw bad("bad webhook: An HTTPS URL must be provided for webhook");
    }
    const secret = str(p["secret_token"]);
    if (secret !== undefined && secret !== "") {
      if (secret.length > 256) throw bad("secret token is too long");
      if (!/^[A-Za-z0-9_-]+$/.test(secret)) throw bad("secret token contains unallowed characters");
    }
    const maxConn = Math.min(100, Math.max(1, int(p["max_connections"]) ?? 40));
    const allowed = json(p["allowed_updates"]);
    const parkedPoll = this.unpark();
    if (parkedPoll) this.d.reply(parkedPoll.res, parkedPoll.rec, 409, { ok: false, error_code: 409, description: CONFLICT_SET_WEBHOOK });
    if (bool(p["drop_pending_updates"])) this.queue.length = 0;
    if (Array.isArray(allowed)) this.allowedUpdates = allowed.map(String);
    const w = this.webhook;
    const same = w !== null && w.url === url && (w.secret_token ?? "") === (secret ?? "") && w.max_connections === maxConn;
    this.webhook = { url, max_connections: maxConn, allowed_updates: this.allowedUpdates };
    if (secret) this.webhook.secret_token = secret;
    const ip = str(p["ip_address"]);
    if (ip) this.webhook.ip_address = ip;
    this.pumpWebhook();
    return same ? "Webhook is already set" : "Webhook was set";
  }

  deleteWebhook(p: Json): string {
    if (bool(p["drop_pending_updates"])) this.queue.length = 0;
    const had = this.webhook !== null;
    this.webhook = null;
    return had ? "Webhook was deleted" : "Webhook is already deleted";
  }

  getWebhookInfo(): Json {
    const w = this.webhook;
    const info: Json = { url: w?.url ?? "", has_custom_certificate: false, pending_update_count: this.queue.length };
    if (w) {
      info["max_connections"] = w.max_connections;
      if (w.ip_address) info["ip_address"] = w.ip_address;
      if (w.allowed_updates?.length) info["allowed_updates"] = w.allowed_updates;
      if (w.last_error_date) {
        info["last_error_date"] = w.last_error_date;
        info["last_error_message"] = w.last_error_message;
      }
    }
    return info;
  }

  /** §1.3: POST each update with X-Telegram-Bot-Api-Secret-Token over up to max_connections parallel requests; redeliver on non-2xx. */
  private pumpWebhook() {
    const hook = this.webhook;
    if (!hook || this.closed) return;
    while (this.inflight.size < hook.max_connections) {
      const next = this.queue.find((q) => !this.inflight.has(q.update.update_id));
      if (!next) return;
      this.inflight.add(next.update.update_id);
      void this.deliver(hook, next.update);
    }
  }

  private async deliver(hook: TelegramWebhookState, update: TelegramUpdate) {
    const ac = new AbortController();
    this.deliveryAborts.add(ac);
    const timer = setTimeout(() => ac.abort(), this.d.webhookTimeoutMs);
    const rec: TelegramWebhookDelivery = { update_id: update.update_id, url: hook.url, at: this.d.now() };
    if (hook.secret_token) rec.secretHeader = hook.secret_token;
    let ok = false;
    try {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (hook.secret_token) headers["x-telegram-bot-api-secret-token"] = hook.secret_token;
      const r = await fetch(hook.url, { method: "POST", headers, body: JSON.stringify(update), signal: ac.signal });
      await r.arrayBuffer().catch(() => undefined);
      rec.status = r.status;
      ok = r.status >= 200 && r.status < 300;
      if (!ok) rec.error = `Wrong response from the webhook: ${r.status} ${r.statusText || http.STATUS_CODES[r.status] || ""}`.trim();
    } catch (e) {
      const code = (e as { cause?: { code?: string } }).cause?.code;
      rec.error = ac.signal.aborted
        ? "Read timeout expired"
        : code === "ECONNREFUSED"
          ? "Connection refused"
          : String((e as Error).message);
    } finally {
      clearTimeout(timer);
      this.deliveryAborts.delete(ac);
    }
    if (this.closed) return;
    this.webhookDeliveries.push(rec);
    if (ok) {
      const i = this.queue.findIndex((q) => q.update.update_id === update.update_id);
      if (i >= 0) this.queue.splice(i, 1);
      this.inflight.delete(update.update_id);
      this.pumpWebhook();
    } else {
      if (this.webhook) {
        this.webhook.last_error_date = Math.floor(this.d.now() / 1000);
        this.webhook.last_error_message = rec.error ?? "error";
      }
      setTimeout(() => {
        this.inflight.delete(update.update_id);
        this.pumpWebhook();
      }, this.d.webhookRetryDelayMs).unref();
    }
    this.d.changed();
  }

  close() {
    this.closed = true;
    this.unpark();
    for (const ac of this.deliveryAborts) ac.abort();
  }
}
