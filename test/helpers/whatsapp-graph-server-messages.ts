/** The Graph error envelope and the `messages` endpoint of the local WhatsApp Cloud API server: sends, the 24 h window, mark-read and typing indicators (PROVIDERS.md §3.6, §3.7, §9.6). */
import crypto from "node:crypto";
import { wamid } from "./whatsapp-graph-server-webhooks.ts";

type Json = Record<string, unknown>;

export interface WhatsAppSentMessage {
  id: string;
  phoneNumberId: string;
  /** The addressee as sent: a phone (`to`), a business-scoped user id (`recipient`, or `to`) or a group id. */
  to: string;
  /** Digits of a phone addressee; "" for a BSUID or a group. */
  waId: string;
  recipient_type: "individual" | "group";
  /** The BSUID when the message went to one (PROVIDERS.md §10.3.3). */
  userId?: string;
  type: string;
  text?: string;
  body: Json;
}
/** One accepted mark-read; `typing_indicator` is set when the call also showed "typing…" (§9.6). */
export interface WhatsAppReadReceipt {
  phoneNumberId: string;
  message_id: string;
  typing_indicator?: unknown;
}

const WINDOW_MS = 24 * 3600 * 1000;

/** Error catalogue (§3.7). Titles/details for codes not quoted in PROVIDERS.md are from Meta's error-code page as remembered [UNV]. */
const ERRORS: Record<number, { status: number; title: string; details?: string }> = {
  0: { status: 401, title: "AuthException", details: "We were unable to authenticate the app user." },
  1: { status: 500, title: "An unknown error occurred" },
  2: { status: 503, title: "Service temporarily unavailable" },
  4: { status: 400, title: "Application request limit reached" },
  100: { status: 400, title: "Invalid parameter" },
  190: { status: 401, title: "Invalid OAuth access token - Cannot parse access token" },
  80007: { status: 400, title: "Rate limit issues", details: "The WhatsApp Business Account has reached its rate limit." },
  130429: {
    status: 400,
    title: "Rate limit hit",
    details: "Message failed to send because there were too many messages sent from this phone number in a short period of time",
  },
  131000: { status: 500, title: "Something went wrong", details: "Message failed to send due to an unknown error." },
  131009: { status: 400, title: "Parameter value is not valid" },
  131016: { status: 503, title: "Service unavailable", details: "A service is temporarily unavailable." },
  131026: {
    status: 400,
    title: "Message Undeliverable",
    details: "Message failed to send because the recipient is not a valid WhatsApp user or uses an old client.",
  },
  131047: {
    status: 400,
    title: "Re-engagement message",
    details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
  },
  131056: {
    status: 400,
    title: "(Business Account, Consumer Account) pair rate limit hit",
    details:
      "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
  },
};

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly body: Json,
    readonly headers: Record<string, string> = {},
  ) {
    super(JSON.stringify(body));
  }
}
export const fbtrace = () => `A${crypto.randomBytes(11).toString("base64url")}`;
/** The Graph error envelope (§3.7): message "(#code) title", type OAuthException, error_data.details, fbtrace_id. */
export function graphError(
  code: number,
  opts: { details?: string; message?: string; subcode?: number; status?: number } = {},
): { status: number; body: Json } {
  const known = ERRORS[code];
  const details = opts.details ?? known?.details;
  const message = opts.message ?? (code === 190 ? known!.title : `(#${code}) ${known?.title ?? "Error"}`);
  return {
    status: opts.status ?? known?.status ?? 400,
    body: {
      error: {
        message,
        type: "OAuthException",
        code,
        ...(details !== undefined ? { error_data: { messaging_product: "whatsapp", details } } : {}),
        ...(opts.subcode !== undefined ? { error_subcode: opts.subcode } : {}),
        fbtrace_id: fbtrace(),
      },
    },
  };
}
export const fail = (code: number, opts: Parameters<typeof graphError>[1] = {}) => {
  const e = graphError(code, opts);
  return new GraphError(e.status, e.body);
};
export const invalidParam = (details: string) => fail(100, { details });
export const digits = (s: string) => s.replace(/\D/g, "");
/** A business-scoped user id: `CC.` (+ `ENT.` for parent ids) + up to 128 alphanumerics (PROVIDERS.md §10.3.3). */
export const BSUID = /^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$/;
/** The key a user or group is tracked by (window, undeliverable): a phone's digits, else the id as given. */
export const recipientKey = (id: string) => (BSUID.test(id) || !/^\+?[\d\s()-]+$/.test(id) ? id : digits(id));
const SEND_TYPES = [
  "audio",
  "contacts",
  "document",
  "image",
  "interactive",
  "location",
  "reaction",
  "sticker",
  "template",
  "text",
  "video",
];

/**
 * Interactive reply buttons (PROVIDERS.md §10.3): body.text 1–1024 characters; 1–3 buttons of type "reply", each
 * with an id ≤ 256 (unique, no leading/trailing spaces) and a title 1–20 characters (unique). Lists are not checked.
 */
function checkInteractive(i: Json): void {
  const kind = i["type"];
  if (kind !== "button" && kind !== "list" && kind !== "cta_url" && kind !== "flow")
    throw invalidParam("Param interactive['type'] must be one of {BUTTON, LIST, CTA_URL, FLOW}.");
  if (kind !== "button") return;
  const body = (i["body"] as Json | undefined)?.["text"];
  if (typeof body !== "string" || body === "")
    throw fail(100, { message: "(#100) The parameter interactive['body']['text'] is required." });
  if ([...body].length > 1024) throw fail(131009, { details: "Body text length invalid. Min length: 1, Max length: 1024" });
  const buttons = (i["action"] as Json | undefined)?.["buttons"];
  if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3)
    throw fail(131009, { details: "Buttons count is invalid. Min count: 1, Max count: 3" });
  const ids = new Set<string>();
  const titles = new Set<string>();
  for (const b of buttons as Json[]) {
    const reply = b?.["reply"] as Json | undefined;
    if (b?.["type"] !== "reply" || !reply) throw invalidParam("Param interactive['action']['buttons'][0]['type'] must be one of {REPLY}.");
    const id = reply["id"];
    const title = reply["title"];
    if (typeof id !== "string" || id === "" || id.length > 256 || id.trim() !== id)
      throw fail(131009, { details: "Button id is invalid. Max length: 256, no leading or trailing spaces" });
    if (typeof title !== "string" || title === "" || [...title].length > 20)
      throw fail(131009, { details: "Button title length invalid. Min length: 1, Max length: 20" });
    if (ids.has(id) || titles.has(title)) throw fail(131009, { details: "Button title or id is not unique" });
    ids.add(id);
    titles.add(title);
  }
}

/** Sent messages, read receipts and the per-user window state behind POST /{phone-number-id}/messages. */
export class WhatsAppMessages {
  readonly sentMessages: WhatsAppSentMessage[] = [];
  readonly readReceipts: WhatsAppReadReceipt[] = [];
  readonly lastInbound = new Map<string, number>();
  readonly undeliverable = new Set<string>();

  constructor(
    private readonly now: () => number,
    private readonly enforceWindow: boolean,
  ) {}

  /** POST /{phone-number-id}/messages (§3.6): a message, or mark-read (+ typing indicator, §9.6). */
  send(pnid: string, body: Json): Json {
    if (body["messaging_product"] === undefined) throw fail(100, { message: "(#100) The parameter messaging_product is required." });
    if (body["messaging_product"] !== "whatsapp")
      throw fail(100, {
        message: `(#100) Param messaging_product must be one of {WHATSAPP} - got "${String(body["messaging_product"])}".`,
      });
    if (body["status"] !== undefined) {
      // Mark as read (+ typing indicator, §9.6): {status:"read", message_id, typing_indicator?:{type:"text"}} → {success:true}
      if (body["status"] !== "read") throw invalidParam("Param status must be one of {READ}.");
      const id = body["message_id"];
      if (id === undefined || id === "") throw fail(100, { message: "(#100) The parameter message_id is required." });
      if (typeof id !== "string" || !id.startsWith("wamid.")) throw fail(131009, { details: "Invalid message_id" });
      const typing = body["typing_indicator"];
      if (typing !== undefined && (typeof typing !== "object" || (typing as Json | null)?.["type"] !== "text"))
        throw invalidParam("Param typing_indicator['type'] must be one of {TEXT}.");
      this.readReceipts.push({ phoneNumberId: pnid, message_id: id, ...(typing !== undefined ? { typing_indicator: typing } : {}) });
      return { success: true };
    }
    // §10.3.3–10.3.4: `to` (a phone, a BSUID, or with recipient_type "group" a group id) or `recipient` (a BSUID,
    // sent instead of `to`; `to` wins when both are present). Neither ⇒ Graph's "to is required".
    const recipientType = body["recipient_type"] ?? "individual";
    if (recipientType !== "individual" && recipientType !== "group")
      throw invalidParam(`Param recipient_type must be one of {INDIVIDUAL, GROUP} - got "${String(recipientType)}".`); // text [UNV]
    const rawTo = body["to"];
    const rawRecipient = body["recipient"];
    const hasTo = typeof rawTo === "string" && rawTo !== "";
    if (!hasTo && (recipientType === "group" || typeof rawRecipient !== "string" || rawRecipient === ""))
      throw fail(100, { message: "(#100) The parameter to is required." });
    const to = hasTo ? rawTo : (rawRecipient as string);
    // `recipient` carries only a business-scoped user id (pywa, courier, whatsapp-api-js); error text [UNV].
    if (!hasTo && !BSUID.test(to)) throw invalidParam("Param recipient must be a business-scoped user id (CC.<id>).");
    const type = (body["type"] as string | undefined) ?? "text";
    if (!SEND_TYPES.includes(type))
      throw fail(100, {
        message: `(#100) Param type must be one of {${SEND_TYPES.map((t) => t.toUpperCase()).join(", ")}} - got "${type}".`,
      });
    const payload = body[type] as Json | undefined;
    if (!payload || typeof payload !== "object") throw fail(100, { message: `(#100) The parameter ${type} is required.` });
    let text: string | undefined;
    if (type === "text") {
      if (typeof payload["body"] !== "string" || payload["body"] === "")
        throw fail(100, { message: "(#100) The parameter text['body'] is required." });
      text = payload["body"];
      // §3.6: body max 4096 characters (unit undocumented; code points here, JS .length is the safe bound).
      if ([...text].length > 4096) throw invalidParam("Param text['body'] must be at most 4096 characters long.");
    }
    if (
      (type === "image" || type === "video" || type === "document") &&
      typeof payload["caption"] === "string" &&
      [...(payload["caption"] as string)].length > 1024
    ) {
      throw invalidParam(`Param ${type}['caption'] must be at most 1024 characters long.`);
    }
    if (type === "interactive") checkInteractive(payload);
    // §10.3.4: groups take no interactive messages (BSP docs; Meta's code and text for the refusal [UNV]).
    if (recipientType === "group" && type === "interactive")
      throw fail(131009, { details: "Interactive messages are not supported for group recipients." });
    if (type === "template" && (typeof payload["name"] !== "string" || !(payload["language"] as Json | undefined)?.["code"])) {
      throw invalidParam("Template name and language code are required.");
    }
    const key = recipientKey(to);
    const isUser = recipientType === "individual" && BSUID.test(to);
    const waId = recipientType === "individual" && !isUser ? key : "";
    if (this.undeliverable.has(key)) throw fail(131026);
    // §3.6: free-form messages only inside the 24-hour customer-service window (per user, or group, by the id the
    // message went to); templates always allowed.
    if (this.enforceWindow && type !== "template") {
      const last = this.lastInbound.get(key);
      if (last === undefined || this.now() - last > WINDOW_MS) throw fail(131047);
    }
    const id = wamid();
    this.sentMessages.push({
      id,
      phoneNumberId: pnid,
      to,
      waId,
      recipient_type: recipientType,
      ...(isUser ? { userId: to } : {}),
      type,
      body,
      ...(text !== undefined ? { text } : {}),
    });
    return {
      messaging_product: "whatsapp",
      // §10.3.3: `user_id` (no wa_id) when sent to a BSUID. What a group send answers in contacts is [UNV]: the input.
      contacts: [isUser ? { input: to, user_id: to } : recipientType === "group" ? { input: to } : { input: to, wa_id: waId }],
      messages: [{ id, ...(type === "template" ? { message_status: "accepted" } : {}) }],
    };
  }
}
