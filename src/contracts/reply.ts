/**
 * @module The neutral reply structure: what tau wants to say (title, paragraphs, fields, lists, code, buttons),
 * before a renderer in `src/outbound/format-*.ts` turns it into Telegram HTML, Discord markdown, WhatsApp markup
 * or plain text. Every string in it is plain user-safe text: renderers escape it, nothing here is markup.
 */

/** One block of a reply body, rendered in order. */
export type ReplyBlock =
  | { kind: "text"; text: string }
  | { kind: "fields"; fields: { label: string; value: string }[] }
  | { kind: "list"; items: string[] }
  | { kind: "code"; text: string };

/** How a button looks; platforms without a style ignore it. */
export type ButtonStyle = "primary" | "secondary" | "success" | "danger";

/**
 * A button under a reply. `data` is an opaque token (`tau:<random>`) looked up server-side when pressed, never
 * an instruction: a forged or unknown token does nothing.
 */
export interface ReplyButton {
  label: string;
  data: string;
  style: ButtonStyle;
}

/** A structured reply. `buttons` sit under the last chunk; the plain rendering always says what they do in words. */
export interface Reply {
  title?: string;
  blocks: ReplyBlock[];
  buttons?: ReplyButton[];
  /** A short human line at the end (e.g. "/tau approve · done"), rendered small where the platform can. */
  footer?: string;
}

/** The answer to a button press: a toast, or (`private`) something only the presser sees. */
export interface CallbackAnswer {
  text: string;
  private: boolean;
}

/** Button data prefix: what tau put under a button. Anything else pressed is not tau's. */
export const BUTTON_TOKEN_PREFIX = "tau:";

/** True for data shaped like a tau button token (`tau:` + 8–40 url-safe characters). */
export function isButtonToken(data: string): boolean {
  return /^tau:[A-Za-z0-9_-]{8,40}$/.test(data);
}

/** A reply with one paragraph. */
export function textReply(text: string, footer?: string): Reply {
  return { blocks: [{ kind: "text", text }], ...(footer ? { footer } : {}) };
}
