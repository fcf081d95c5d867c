/**
 * @module Media for the fake OpenAI-compatible server (`openai-server.ts`): vision input (`image_url` parts with
 * `data:` URLs, checked as OpenAI checks them: png/jpeg/gif/webp only, valid base64, user turns only, 400
 * `invalid_image_format` otherwise) and speech to text (`/v1/audio/transcriptions` multipart, PROVIDERS.md §9.3 and
 * §9.8 6: the fields, OpenAI's 400s and 413, the `json`/`text`/`srt`/`vtt`/`verbose_json` answers, and whisper.cpp's
 * deviations: `model` ignored, `{"error":"…"}` bodies, `text` sent as `text/html`).
 */
import type { ChatBody, FailSpec, OpenAIServerMode } from "./openai-server-sse.ts";
import { boundaryOf, parseMultipart } from "./openai-server-multipart.ts";

/** One image a chat request carried, decoded. */
export interface RecordedImage {
  /** Index of the message in `messages` and of the part in its content. */
  message: number;
  part: number;
  mime: string;
  bytes: Buffer;
  /** `image_url.detail` when sent. */
  detail: string | null;
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const UNSUPPORTED_IMAGE =
  "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].";

/** Strict base64 (standard alphabet, padded, canonical): the bytes, or null when `s` is not base64. */
export function decodeBase64Strict(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const bytes = Buffer.from(s, "base64");
  return bytes.toString("base64") === s ? bytes : null;
}

const partsOf = (content: unknown): unknown[] => (Array.isArray(content) ? content : []);
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * OpenAI's 400 for the content parts of `body`, or null: parts must be `text` or `image_url` objects, images only in
 * user turns, and an image URL a `data:image/<png|jpeg|gif|webp>;base64,` URL whose payload decodes (the fake cannot
 * download http(s) URLs; OpenAI would, and tau must never send one, as platform URLs carry bot tokens).
 */
export function validateContentParts(body: ChatBody): FailSpec | null {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: unknown; content?: unknown }>) : [];
  const bad = (message: string, param: string | null, code: string | null = null): FailSpec => ({
    status: 400,
    type: "invalid_request_error",
    message,
    param,
    code,
  });
  for (const [i, m] of messages.entries()) {
    if (!Array.isArray(m.content)) continue;
    for (const [j, p] of m.content.entries()) {
      const param = `messages.[${i}].content.[${j}]`;
      if (!isObj(p) || (p.type !== "text" && p.type !== "image_url")) {
        return bad(
          `Invalid value: '${isObj(p) ? String(p.type) : typeof p}'. Supported values are: 'text' and 'image_url'.`,
          `${param}.type`,
        );
      }
      if (p.type === "text") {
        if (typeof p.text !== "string") return bad(`Invalid type for '${param}.text': expected a string.`, `${param}.text`);
        continue;
      }
      if (m.role !== "user")
        return bad(`Image URLs are only allowed for messages with role 'user', but this message has role '${String(m.role)}'.`, param);
      const url = isObj(p.image_url) ? p.image_url.url : undefined;
      if (typeof url !== "string") return bad(`Missing required parameter: '${param}.image_url.url'.`, `${param}.image_url.url`);
      const data = DATA_URL.exec(url);
      if (!data) return bad(`Error while downloading ${url.slice(0, 60)}.`, `${param}.image_url.url`, "invalid_image_url");
      if (!IMAGE_TYPES.has(data[1]!.toLowerCase())) return bad(UNSUPPORTED_IMAGE, null, "invalid_image_format");
      if (!decodeBase64Strict(data[2]!))
        return bad("You uploaded an unsupported image. Please make sure your image is valid.", null, "invalid_image_format");
    }
  }
  return null;
}

/** The images of a (valid) chat body, decoded, in message order. */
export function imagesOf(body: ChatBody | null): RecordedImage[] {
  const messages = body && Array.isArray(body.messages) ? (body.messages as Array<{ content?: unknown }>) : [];
  const out: RecordedImage[] = [];
  messages.forEach((m, message) =>
    partsOf(m.content).forEach((p, part) => {
      if (!isObj(p) || p.type !== "image_url" || !isObj(p.image_url) || typeof p.image_url.url !== "string") return;
      const data = DATA_URL.exec(p.image_url.url);
      const bytes = data ? decodeBase64Strict(data[2]!) : null;
      if (!data || !bytes) return;
      out.push({
        message,
        part,
        mime: data[1]!.toLowerCase(),
        bytes,
        detail: typeof p.image_url.detail === "string" ? p.image_url.detail : null,
      });
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Speech to text

export type TranscriptionFormat = "json" | "text" | "srt" | "vtt" | "verbose_json";
const FORMATS: readonly TranscriptionFormat[] = ["json", "text", "srt", "verbose_json", "vtt"];
/** What OpenAI takes, judged by the file name's extension. */
const EXTENSIONS = ["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"];
/** OpenAI's upload limit (25 MB). */
export const MAX_AUDIO_BYTES = 26_214_400;

/** One scripted transcript. */
export interface ScriptedTranscript {
  text: string;
  /** Answer in this format whatever `response_format` asked (a server that ignores it). */
  format?: TranscriptionFormat;
  /** Default: whisper-1 → `{type:"duration"}`, other models → `{type:"tokens"}` with rough counts; null → no `usage`. */
  usage?: { type: "tokens"; inputTokens: number; outputTokens: number } | { type: "duration"; seconds: number } | null;
  /** `verbose_json` language. Default `english`. */
  language?: string;
  /** Seconds. Default: bytes / 4000 (at least 0.1). */
  duration?: number;
  /** Wait before answering. */
  delayMs?: number;
}

/** A transcription request as the fake parsed it. */
export interface TranscriptionRequest {
  /** The text fields, each with every value sent (`timestamp_granularities[]` repeats). */
  fields: Record<string, string[]>;
  file: { filename: string | null; contentType: string | null; bytes: Buffer } | null;
  model: string | null;
  /** `response_format` as sent, `json` when absent. */
  responseFormat: string;
  language: string | null;
}

/** Parse the multipart body; a string is why it could not be parsed. */
export function readTranscriptionRequest(bytes: Buffer, contentType: string | undefined): TranscriptionRequest | string {
  const boundary = boundaryOf(contentType);
  if (!boundary) return `Invalid Content-Type header (${contentType ?? "none"}), expected multipart/form-data.`;
  let parts;
  try {
    parts = parseMultipart(bytes, boundary);
  } catch (e) {
    return `Could not parse multipart form: ${(e as Error).message}`;
  }
  const fields: Record<string, string[]> = {};
  let file: TranscriptionRequest["file"] = null;
  for (const p of parts) {
    if (p.name === "file" && p.filename !== null) file ??= { filename: p.filename, contentType: p.contentType, bytes: Buffer.from(p.data) };
    else (fields[p.name] ??= []).push(p.data.toString("utf8"));
  }
  const one = (k: string) => fields[k]?.[0] ?? null;
  return { fields, file, model: one("model"), responseFormat: one("response_format") ?? "json", language: one("language") };
}

/** The 400/413 OpenAI (or whisper.cpp) gives this request, or null. `mode` decides which server's rules apply. */
export function validateTranscription(mode: OpenAIServerMode, req: TranscriptionRequest): FailSpec | null {
  if (mode === "whisper.cpp") return req.file ? null : { status: 400, message: "no 'file' field in the request" };
  const bad = (message: string, param: string | null = null, code: string | null = null): FailSpec => ({
    status: 400,
    type: "invalid_request_error",
    message,
    param,
    code,
  });
  if (!req.file) return bad("1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)");
  if (!req.model) return bad("you must provide a model parameter", "model");
  if (!(FORMATS as readonly string[]).includes(req.responseFormat)) {
    return bad(
      `'${req.responseFormat}' is not one of ['json', 'text', 'srt', 'verbose_json', 'vtt'] - 'response_format'`,
      "response_format",
    );
  }
  if (req.file.bytes.length > MAX_AUDIO_BYTES) {
    return {
      status: 413,
      type: "invalid_request_error",
      message: `Maximum content size limit (${MAX_AUDIO_BYTES}) exceeded (${req.file.bytes.length} bytes read)`,
    };
  }
  const name = req.file.filename ?? "";
  const ext = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "";
  if (!EXTENSIONS.includes(ext)) {
    return bad(`Invalid file format. Supported formats: [${EXTENSIONS.map((e) => `'${e}'`).join(", ")}]`, null, "invalid_value");
  }
  if (req.file.bytes.length === 0) return bad("Audio file is too short. Minimum audio length is 0.1 seconds.", "file", "audio_too_short");
  return null;
}

/** The default transcript: `transcript of <filename> (<bytes> bytes)`. */
export const defaultTranscript = (req: TranscriptionRequest): ScriptedTranscript => ({
  text: `transcript of ${req.file?.filename ?? "?"} (${req.file?.bytes.length ?? 0} bytes)`,
});

const stamp = (seconds: number, sep: "," | ".") => {
  const ms = Math.round(seconds * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${sep}${pad(ms % 1000, 3)}`;
};

/** The HTTP answer for a transcript in the requested (or forced) format, shaped as `mode`'s server sends it. */
export function transcriptionResponse(
  mode: OpenAIServerMode,
  req: TranscriptionRequest,
  t: ScriptedTranscript,
): { contentType: string; body: string } {
  const format =
    t.format ?? ((FORMATS as readonly string[]).includes(req.responseFormat) ? (req.responseFormat as TranscriptionFormat) : "json");
  const bytes = req.file?.bytes.length ?? 0;
  const duration = t.duration ?? Math.max(0.1, Math.round((bytes / 4000) * 100) / 100);
  const whisperCpp = mode === "whisper.cpp";
  const text = whisperCpp ? ` ${t.text}` : t.text; // whisper.cpp keeps whisper's leading space
  const plain = whisperCpp ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
  if (format === "text") return { contentType: plain, body: `${text}\n` };
  if (format === "srt") return { contentType: plain, body: `1\n${stamp(0, ",")} --> ${stamp(duration, ",")}\n${text}\n\n` };
  if (format === "vtt") return { contentType: plain, body: `WEBVTT\n\n${stamp(0, ".")} --> ${stamp(duration, ".")}\n${text}\n\n` };
  const usage =
    t.usage === null || whisperCpp
      ? undefined
      : t.usage?.type === "duration"
        ? { type: "duration", seconds: t.usage.seconds }
        : t.usage?.type === "tokens" || req.model !== "whisper-1"
          ? tokensUsage(
              t.usage?.type === "tokens"
                ? t.usage
                : { inputTokens: Math.max(1, Math.ceil(bytes / 100)), outputTokens: Math.max(1, Math.ceil(t.text.length / 4)) },
            )
          : { type: "duration", seconds: Math.ceil(duration) };
  if (format === "json") return { contentType: "application/json", body: JSON.stringify(usage ? { text, usage } : { text }) };
  const language = t.language ?? "english";
  const segment = {
    id: 0,
    seek: 0,
    start: 0,
    end: duration,
    text,
    tokens: [50364, 50414],
    temperature: 0,
    avg_logprob: -0.25,
    compression_ratio: 1.1,
    no_speech_prob: 0.01,
  };
  const verbose: Record<string, unknown> = { task: "transcribe", language, duration, text, segments: [segment] };
  if (usage) verbose.usage = usage;
  if (whisperCpp) Object.assign(verbose, { detected_language: language, detected_language_probability: 0.97 });
  return { contentType: "application/json", body: JSON.stringify(verbose) };
}

function tokensUsage(u: { inputTokens: number; outputTokens: number }) {
  return {
    type: "tokens",
    input_tokens: u.inputTokens,
    input_token_details: { text_tokens: 0, audio_tokens: u.inputTokens },
    output_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
  };
}
