/** WhatsApp Cloud API webhook helpers: realistic notification bodies, X-Hub-Signature-256 signing, delivery and the GET handshake (PROVIDERS.md §3.1–3.5). */
import crypto from "node:crypto";

type Json = Record<string, unknown>;

export const DEFAULT_PHONE_NUMBER_ID = "106540352242922";
export const DEFAULT_DISPLAY_NUMBER = "15550783881";
export const DEFAULT_WABA_ID = "102290129340398";

/** A message id in the wamid.<base64> shape. */
export const wamid = () => `wamid.${Buffer.from(`HBgL${crypto.randomBytes(18).toString("hex").toUpperCase()}`).toString("base64")}`;

/** `X-Hub-Signature-256` value: "sha256=" + lowercase hex HMAC-SHA256(appSecret, raw body bytes) (§3.2). */
export function signWebhook(appSecret: string, rawBody: string | Buffer): string {
  return `sha256=${crypto.createHmac("sha256", appSecret).update(rawBody).digest("hex")}`;
}

/** JSON with non-ASCII escaped as \uXXXX, the "escaped unicode version of the payload" Meta signs (§3.2). */
export function metaJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export interface InboundMessageSpec {
  from: string;
  id?: string;
  /** unix seconds (number or string); default now */
  timestamp?: number | string;
  type?: string;
  text?: string;
  context?: Json;
  /** the type-specific object when type is not text, e.g. { image: { id, mime_type, sha256 } } */
  [k: string]: unknown;
}

/** A `messages[]` entry (§3.3–3.4); `timestamp` is a string of unix seconds. */
export function inboundMessage(spec: InboundMessageSpec): Json {
  const { from, id, timestamp, type, text, ...rest } = spec;
  const t = type ?? "text";
  return {
    from,
    id: id ?? wamid(),
    timestamp: String(timestamp ?? Math.floor(Date.now() / 1000)),
    type: t,
    ...(t === "text" ? { text: { body: text ?? "" } } : {}),
    ...rest,
  };
}

/** A `statuses[]` entry (§3.5). */
export function statusUpdate(s: {
  id: string;
  status: "sent" | "delivered" | "read" | "failed" | "played";
  recipient_id: string;
  timestamp?: number | string;
  errors?: Json[];
}): Json {
  return {
    id: s.id,
    status: s.status,
    timestamp: String(s.timestamp ?? Math.floor(Date.now() / 1000)),
    recipient_id: s.recipient_id,
    ...(s.errors ? { errors: s.errors } : {}),
  };
}

export interface WebhookBodySpec {
  wabaId?: string;
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  /** contacts[] profiles; defaults to one per distinct message sender */
  contacts?: { wa_id: string; name?: string }[];
  messages?: Json[];
  statuses?: Json[];
  errors?: Json[];
  /** Extra changes/entries for batching tests (§3.3: iterate all entries and changes). */
  extraEntries?: Json[];
}

/** The raw body Meta POSTs (§3.3), serialized with escaped unicode; sign it with signWebhook(). */
export function webhookBody(spec: WebhookBodySpec): string {
  const value: Json = {
    messaging_product: "whatsapp",
    metadata: {
      display_phone_number: spec.displayPhoneNumber ?? DEFAULT_DISPLAY_NUMBER,
      phone_number_id: spec.phoneNumberId ?? DEFAULT_PHONE_NUMBER_ID,
    },
  };
  if (spec.messages?.length) {
    const contacts: { wa_id: string; name?: string }[] =
      spec.contacts ?? [...new Set(spec.messages.map((m) => String(m["from"])))].map((wa_id) => ({ wa_id }));
    value["contacts"] = contacts.map((c) => ({ profile: { name: c.name ?? `User ${c.wa_id.slice(-4)}` }, wa_id: c.wa_id }));
    value["messages"] = spec.messages;
  }
  if (spec.statuses?.length) value["statuses"] = spec.statuses;
  if (spec.errors?.length) value["errors"] = spec.errors;
  return metaJson({
    object: "whatsapp_business_account",
    entry: [{ id: spec.wabaId ?? DEFAULT_WABA_ID, changes: [{ value, field: "messages" }] }, ...(spec.extraEntries ?? [])],
  });
}

/** POSTs a signed raw body to the bot's webhook like Meta does (§3.2). */
export async function deliverWebhook(targetUrl: string, rawBody: string, appSecret: string, headers: Record<string, string> = {}) {
  const r = await fetch(targetUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-hub-signature-256": signWebhook(appSecret, rawBody),
      "user-agent": "facebookexternalua",
      ...headers,
    },
    body: rawBody,
  });
  return { status: r.status, text: await r.text() };
}

/** The GET verification handshake (§3.1); a correct endpoint answers 200 with the raw challenge. */
export async function verifyWebhook(targetUrl: string, verifyToken: string, challenge = "1158201444") {
  const u = new URL(targetUrl);
  u.searchParams.set("hub.mode", "subscribe");
  u.searchParams.set("hub.challenge", challenge);
  u.searchParams.set("hub.verify_token", verifyToken);
  const r = await fetch(u);
  return { status: r.status, text: await r.text() };
}
