/** Chats, sent messages, files and callback queries of the local Telegram Bot API server (PROVIDERS.md §1.4–1.7). */
import crypto from "node:crypto";
import { checkInlineKeyboard, parseTelegramText, SUPPORTED_PARSE_MODES } from "./telegram-bot-api-server-markup.ts";
import {
  ApiError,
  bad,
  codePoints,
  int,
  json,
  MAX_DOWNLOAD_BYTES,
  NOT_MODIFIED,
  str,
  updateType,
  type Json,
  type TelegramChat,
  type TelegramFile,
  type TelegramRecordedRequest,
  type TelegramSentMessage,
  type TelegramUpdate,
  type TelegramUser,
} from "./telegram-bot-api-server-common.ts";

/** The documented `sendChatAction` actions; anything else is 400 "wrong parameter action in request". */
export const CHAT_ACTIONS = [
  "typing",
  "upload_photo",
  "record_video",
  "upload_video",
  "record_voice",
  "upload_voice",
  "upload_document",
  "choose_sticker",
  "find_location",
  "record_video_note",
  "upload_video_note",
];
/** One accepted `sendChatAction`. */
export interface TelegramChatAction {
  chat_id: number;
  action: string;
  message_thread_id?: number;
  /** Set when the action was shown in a business account's chat (PROVIDERS.md §10.1.6). */
  business_connection_id?: string;
  params: Json;
}

type ChatState = { kind: "migrated"; to: number } | { kind: "forbidden"; description: string } | { kind: "missing" };
type Upload = TelegramRecordedRequest["files"];

export class TelegramChats {
  readonly chats = new Map<number, TelegramChat>();
  readonly sentMessages: TelegramSentMessage[] = [];
  readonly callbackAnswers: Json[] = [];
  readonly chatActions: TelegramChatAction[] = [];
  readonly files = new Map<string, TelegramFile & { content?: Buffer }>();
  private readonly usernames = new Map<string, number>();
  private readonly state = new Map<number, ChatState>();
  private readonly forumTopics = new Map<number, Set<number>>();
  /**
   * Business connections (PROVIDERS.md §10.1.6): id → the chats of the business account seen through it. Those chat
   * ids are the account's, "independent from any potential bot chat which might share the same identifier": they are
   * reached only with `business_connection_id`; without it the id means the bot's own chat (usually none).
   */
  private readonly businessChats = new Map<string, Map<number, TelegramChat>>();
  private readonly lastMessageId = new Map<number, number>();
  private readonly knownMessageIds = new Map<number, Set<number>>();
  private readonly knownCallbackQueries = new Set<string>();
  private readonly expiredCallbackQueries = new Set<string>();
  private readonly callbackSeenAt = new Map<string, number>();
  /** How long after the update a callback query may still be answered (Telegram's is undocumented: "a few seconds"). */
  callbackAnswerDeadlineMs = 15_000;
  private fileCounter = 0;

  constructor(
    private readonly botUser: TelegramUser,
    private readonly now: () => number,
    private readonly strict: boolean,
  ) {}

  private unixNow() {
    return Math.floor(this.now() / 1000);
  }

  addChat(chat: TelegramChat): TelegramChat {
    this.chats.set(chat.id, chat);
    if (chat.username) this.usernames.set(chat.username.toLowerCase(), chat.id);
    this.state.delete(chat.id);
    return chat;
  }
  /** §1.7 403s, e.g. "Forbidden: bot was blocked by the user" or "Forbidden: bot was kicked from the group chat". */
  forbid(id: number, description: string) {
    this.state.set(id, { kind: "forbidden", description });
  }
  unforbid(id: number) {
    this.state.delete(id);
  }
  forget(id: number) {
    this.state.set(id, { kind: "missing" });
  }
  /** §1.4 group → supergroup migration: the old id answers 400 with parameters.migrate_to_chat_id. */
  migrate(oldId: number, newId: number, title?: string) {
    this.addChat({ id: newId, type: "supergroup", title: title ?? this.chats.get(oldId)?.title ?? `Supergroup ${newId}` });
    this.state.set(oldId, { kind: "migrated", to: newId });
  }
  addForumTopic(chatId: number, threadId: number) {
    const c = this.chats.get(chatId) ?? this.addChat({ id: chatId, type: "supergroup", title: `Forum ${chatId}`, is_forum: true });
    c.is_forum = true;
    const set = this.forumTopics.get(chatId) ?? new Set<number>();
    set.add(threadId);
    this.forumTopics.set(chatId, set);
  }
  /** A connected business account (a `business_connection` update with is_enabled true). */
  addBusinessConnection(id: string) {
    if (!this.businessChats.has(id)) this.businessChats.set(id, new Map());
  }
  /** The connection was disabled or deleted: its id answers "business connection not found" from now on. */
  removeBusinessConnection(id: string) {
    this.businessChats.delete(id);
  }
  /** A chat of the business account (a customer who wrote to it), reachable through the connection only. */
  addBusinessChat(connectionId: string, chat: TelegramChat) {
    this.addBusinessConnection(connectionId);
    this.businessChats.get(connectionId)!.set(chat.id, chat);
  }
  private isBusinessOnlyChat(id: number): boolean {
    return !this.chats.has(id) && [...this.businessChats.values()].some((m) => m.has(id));
  }
  /**
   * The chat a send/edit/chat-action addresses: with `business_connection_id`, a chat of that business account (400
   * "business connection not found" for an unknown connection [SEC: Bot API error text as quoted by client libraries'
   * tests]); without it, the bot's own chat — a business customer's id is then no chat of the bot ("chat not found").
   */
  resolveTarget(p: Json): TelegramChat {
    const bc = str(p["business_connection_id"]);
    if (bc === undefined) return this.resolve(p["chat_id"]);
    const chats = this.businessChats.get(bc);
    if (!chats) throw bad("business connection not found");
    const v = str(p["chat_id"]);
    if (v === undefined || v === "") throw bad("chat_id is empty");
    if (!/^\d+$/.test(v)) throw bad("chat not found"); // business chats are private chats with users
    const known = chats.get(Number(v));
    if (known) return known;
    if (this.strict) throw bad("chat not found");
    const chat: TelegramChat = { id: Number(v), type: "private", first_name: `User ${v}` };
    chats.set(chat.id, chat);
    return chat;
  }
  expireCallbackQuery(id: string) {
    this.expiredCallbackQueries.add(id);
  }

  private autoChat(id: number): TelegramChat {
    if (id > 0) return { id, type: "private", first_name: `User ${id}` };
    if (id <= -1_000_000_000_000) return { id, type: "supergroup", title: `Supergroup ${id}` };
    return { id, type: "group", title: `Group ${id}` };
  }

  resolve(raw: unknown): TelegramChat {
    const v = str(raw);
    if (v === undefined || v === "") throw bad("chat_id is empty");
    let id: number | undefined;
    if (v.startsWith("@")) {
      id = this.usernames.get(v.slice(1).toLowerCase());
      if (id === undefined) throw bad("chat not found");
    } else if (/^-?\d+$/.test(v)) id = Number(v);
    else throw bad("chat not found");
    const st = this.state.get(id);
    if (st?.kind === "migrated") throw bad("group chat was upgraded to a supergroup chat", { migrate_to_chat_id: st.to });
    if (st?.kind === "missing") throw bad("chat not found");
    if (st?.kind === "forbidden") throw new ApiError(403, st.description);
    const known = this.chats.get(id);
    if (known) return known;
    if (this.strict || this.isBusinessOnlyChat(id)) throw bad("chat not found");
    return this.addChat(this.autoChat(id));
  }

  private noteMessageId(chatId: number, id: number) {
    if (id > (this.lastMessageId.get(chatId) ?? 0)) this.lastMessageId.set(chatId, id);
    const set = this.knownMessageIds.get(chatId) ?? new Set<number>();
    set.add(id);
    this.knownMessageIds.set(chatId, set);
  }
  /** message_id is per chat in Telegram; inbound messages occupy ids too. */
  private nextMessageId(chatId: number): number {
    const n = (this.lastMessageId.get(chatId) ?? 0) + 1;
    this.noteMessageId(chatId, n);
    return n;
  }

  /** Learns chats, message ids and callback query ids from an update pushed by a test. */
  noteInbound(u: TelegramUpdate) {
    const type = updateType(u);
    const payload = type ? (u[type] as Json | undefined) : undefined;
    const chat = payload?.["chat"] as TelegramChat | undefined;
    if (type === "business_connection" && typeof payload?.["id"] === "string") {
      if (payload["is_enabled"] === false) this.removeBusinessConnection(payload["id"] as string);
      else this.addBusinessConnection(payload["id"] as string);
      return;
    }
    const bc = payload?.["business_connection_id"];
    if ((type === "business_message" || type === "edited_business_message") && typeof bc === "string") {
      if (chat && typeof chat.id === "number") this.addBusinessChat(bc, chat);
      return;
    }
    if (chat && typeof chat.id === "number") {
      if (!this.chats.has(chat.id)) this.addChat(chat);
      if (typeof payload?.["message_id"] === "number") this.noteMessageId(chat.id, payload["message_id"] as number);
    }
    if (type === "callback_query" && typeof payload?.["id"] === "string") {
      this.knownCallbackQueries.add(payload["id"] as string);
      this.callbackSeenAt.set(payload["id"] as string, this.now());
    }
  }

  private formatText(p: Json, field: "text" | "caption", entitiesField: string) {
    const mode = str(p["parse_mode"]);
    if (mode !== undefined && !SUPPORTED_PARSE_MODES.includes(mode.toLowerCase())) throw bad("unsupported parse_mode");
    const parsed = parseTelegramText(str(p[field]) ?? "", mode, json(p[entitiesField]));
    if (!parsed.ok) throw bad(`can't parse entities: ${parsed.error}`);
    return parsed;
  }
  private checkThread(chat: TelegramChat, p: Json): number | undefined {
    const thread = int(p["message_thread_id"]);
    const topics = this.forumTopics.get(chat.id);
    if (thread !== undefined && topics && !topics.has(thread)) throw bad("message thread not found");
    return thread;
  }
  private baseMessage(chat: TelegramChat, p: Json, thread: number | undefined): Json {
    const msg: Json = { message_id: this.nextMessageId(chat.id), from: this.botUser, chat, date: this.unixNow() };
    if (chat.type === "channel") {
      delete msg["from"];
      msg["sender_chat"] = chat;
    }
    if (thread !== undefined) {
      msg["message_thread_id"] = thread;
      if (chat.is_forum) msg["is_topic_message"] = true;
    }
    const replyParams = json(p["reply_parameters"]) as Json | undefined;
    const replyTo = int(replyParams?.["message_id"] ?? p["reply_to_message_id"]);
    if (replyTo !== undefined) msg["reply_to_message"] = { message_id: replyTo, chat, date: this.unixNow() };
    const markup = json(p["reply_markup"]);
    const keyboardError = checkInlineKeyboard(markup);
    if (keyboardError) throw bad(keyboardError);
    if (markup && typeof markup === "object" && "inline_keyboard" in (markup as Json)) msg["reply_markup"] = markup;
    return msg;
  }
  private record(method: string, chat: TelegramChat, p: Json, msg: Json, extra: Partial<TelegramSentMessage>): Json {
    this.sentMessages.push({
      method,
      chat_id: chat.id,
      message_id: msg["message_id"] as number,
      entities: [],
      params: p,
      message: msg,
      ...(msg["message_thread_id"] !== undefined ? { message_thread_id: msg["message_thread_id"] as number } : {}),
      ...extra,
    });
    return msg;
  }

  sendMessage(p: Json): Json {
    const chat = this.resolveTarget(p); // chat errors come before text errors
    const parsed = this.formatText(p, "text", "entities");
    if (parsed.text === "") throw bad("message text is empty");
    if (codePoints(parsed.text) > 4096) throw bad("message is too long"); // §1.6: code points after entity parsing
    const msg = this.baseMessage(chat, p, this.checkThread(chat, p));
    msg["text"] = parsed.text;
    if (parsed.entities.length) msg["entities"] = parsed.entities;
    const lpo = json(p["link_preview_options"]);
    if (lpo && typeof lpo === "object") msg["link_preview_options"] = lpo;
    return this.record("sendMessage", chat, p, msg, { text: parsed.text, entities: parsed.entities });
  }

  sendMedia(method: "sendPhoto" | "sendDocument", p: Json, upload: Upload): Json {
    const chat = this.resolveTarget(p);
    const field = method === "sendPhoto" ? "photo" : "document";
    const parsed = this.formatText(p, "caption", "caption_entities");
    if (codePoints(parsed.text) > 1024) throw bad("message caption is too long");
    const thread = this.checkThread(chat, p);
    const ref = str(p[field]);
    const part = upload[field] ?? (ref?.startsWith("attach://") ? upload[ref.slice("attach://".length)] : undefined);
    let file: TelegramFile;
    if (part) file = this.addFile({ content: part.data, file_path: `${field}s/${part.filename || "file"}` });
    else if (!ref) throw bad(`there is no ${field} in the request`);
    else if (this.files.has(ref)) file = this.files.get(ref)!;
    else if (/^https?:\/\//.test(ref)) file = this.addFile({ content: Buffer.alloc(0) });
    else throw bad("wrong file identifier/HTTP URL specified");
    const msg = this.baseMessage(chat, p, thread);
    if (method === "sendPhoto")
      msg["photo"] = [{ file_id: file.file_id, file_unique_id: file.file_unique_id, width: 90, height: 90, file_size: file.file_size }];
    else
      msg["document"] = {
        file_id: file.file_id,
        file_unique_id: file.file_unique_id,
        file_name: part?.filename,
        mime_type: part?.contentType,
        file_size: file.file_size,
      };
    if (parsed.text) msg["caption"] = parsed.text;
    if (parsed.entities.length) msg["caption_entities"] = parsed.entities;
    return this.record(method, chat, p, msg, { caption: parsed.text, entities: parsed.entities });
  }

  editMessageText(p: Json): Json | true {
    if (p["inline_message_id"] !== undefined) {
      this.formatText(p, "text", "entities");
      return true;
    }
    const chat = this.resolve(p["chat_id"]);
    const id = int(p["message_id"]);
    const sent = this.sentMessages.find((m) => m.chat_id === chat.id && m.message_id === id);
    if (!sent) throw bad("message to edit not found");
    if (sent.text === undefined) throw bad("there is no text in the message to edit");
    const parsed = this.formatText(p, "text", "entities");
    if (parsed.text === "") throw bad("message text is empty");
    if (codePoints(parsed.text) > 4096) throw bad("message is too long");
    const markup = json(p["reply_markup"]);
    const keyboardError = checkInlineKeyboard(markup);
    if (keyboardError) throw bad(keyboardError);
    if (
      parsed.text === sent.text &&
      JSON.stringify(parsed.entities) === JSON.stringify(sent.entities) &&
      JSON.stringify(markup ?? null) === JSON.stringify(sent.message["reply_markup"] ?? null)
    )
      throw bad(NOT_MODIFIED);
    sent.text = parsed.text;
    sent.entities = parsed.entities;
    sent.message = { ...sent.message, text: parsed.text, edit_date: this.unixNow() };
    if (parsed.entities.length) sent.message["entities"] = parsed.entities;
    else delete sent.message["entities"];
    if (markup && typeof markup === "object") sent.message["reply_markup"] = markup;
    else delete sent.message["reply_markup"];
    return sent.message;
  }

  /** §9.6: chat errors first (unknown chat → 400 "chat not found", blocked → 403), then the action, then the topic. */
  sendChatAction(p: Json): true {
    const chat = this.resolveTarget(p);
    const action = str(p["action"]) ?? "";
    if (!CHAT_ACTIONS.includes(action)) throw bad("wrong parameter action in request");
    const thread = this.checkThread(chat, p);
    const bc = str(p["business_connection_id"]);
    this.chatActions.push({
      chat_id: chat.id,
      action,
      ...(thread !== undefined ? { message_thread_id: thread } : {}),
      ...(bc !== undefined ? { business_connection_id: bc } : {}),
      params: p,
    });
    return true;
  }

  deleteMessage(p: Json): true {
    const chat = this.resolve(p["chat_id"]);
    if (!this.knownMessageIds.get(chat.id)?.delete(int(p["message_id"]) ?? -1)) throw bad("message to delete not found");
    return true;
  }

  answerCallbackQuery(p: Json): true {
    const id = str(p["callback_query_id"]) ?? "";
    if (!this.knownCallbackQueries.has(id) || this.expiredCallbackQueries.has(id)) {
      throw bad("query is too old and response timeout expired or query ID is invalid");
    }
    // Deadline (undocumented, a few seconds in practice) and a second answer: both QUERY_ID_INVALID (PROVIDERS.md §10.1).
    const seenAt = this.callbackSeenAt.get(id);
    if (seenAt !== undefined && this.now() - seenAt > this.callbackAnswerDeadlineMs) {
      this.expiredCallbackQueries.add(id);
      throw bad("query is too old and response timeout expired or query ID is invalid");
    }
    this.callbackAnswers.push(p);
    this.expiredCallbackQueries.add(id);
    return true;
  }

  /** editMessageReplyMarkup: only the keyboard changes (omitted or empty removes it); same keyboard ⇒ "not modified". */
  editMessageReplyMarkup(p: Json): Json {
    const chat = this.resolve(p["chat_id"]);
    const id = int(p["message_id"]);
    const sent = this.sentMessages.find((m) => m.chat_id === chat.id && m.message_id === id);
    if (!sent) throw bad("message to edit not found");
    const markup = json(p["reply_markup"]);
    const keyboardError = checkInlineKeyboard(markup);
    if (keyboardError) throw bad(keyboardError);
    const rows = (markup as { inline_keyboard?: unknown[] } | undefined)?.inline_keyboard;
    const next = rows && rows.length ? markup : null;
    if (JSON.stringify(next) === JSON.stringify(sent.message["reply_markup"] ?? null)) throw bad(NOT_MODIFIED);
    sent.message = { ...sent.message, edit_date: this.unixNow() };
    if (next) sent.message["reply_markup"] = next;
    else delete sent.message["reply_markup"];
    return sent.message;
  }

  /** §1.5 files: registers content downloadable at /file/bot<token>/<file_path>. */
  addFile(f: {
    file_id?: string;
    file_unique_id?: string;
    content?: Buffer | string;
    file_path?: string;
    file_size?: number;
  }): TelegramFile {
    this.fileCounter++;
    const content = f.content === undefined ? undefined : Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content);
    const file = {
      file_id: f.file_id ?? `BQACAgIAAxkBAAI${crypto.randomBytes(12).toString("base64url")}`,
      file_unique_id: f.file_unique_id ?? `AgAD${crypto.randomBytes(6).toString("base64url")}`,
      file_size: f.file_size ?? content?.length,
      file_path: f.file_path ?? `documents/file_${this.fileCounter}.bin`,
      content,
    };
    this.files.set(file.file_id, file);
    const { content: _c, ...pub } = file;
    return pub;
  }

  getFile(p: Json): TelegramFile {
    const f = this.files.get(str(p["file_id"]) ?? "");
    if (!f) throw bad("invalid file_id");
    if ((f.file_size ?? 0) > MAX_DOWNLOAD_BYTES) throw bad("file is too big"); // cloud Bot API: 20 MB
    const { content: _c, ...pub } = f;
    return pub;
  }

  fileByPath(path: string): Buffer | undefined {
    return [...this.files.values()].find((x) => x.file_path === path)?.content;
  }
}
