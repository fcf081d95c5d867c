/**
 * @module A strict `multipart/form-data` parser (RFC 7578 over RFC 2046) for the fake OpenAI server's
 * `/v1/audio/transcriptions`, written here because no multipart package is installed. It works on the raw bytes
 * (file content is binary and may contain CRLF, `--` or anything but the delimiter), reads `Content-Disposition`
 * parameters the way browsers and undici write them (quoted strings, `"`/CR/LF escaped as `%22`/`%0D`/`%0A`, and
 * RFC 5987 `filename*=` when a client sends it), and throws on anything malformed rather than guessing.
 */

/** One part of a form. */
export interface MultipartPart {
  name: string;
  /** Present on file parts. */
  filename: string | null;
  /** The part's `Content-Type`, null when absent (a text field). */
  contentType: string | null;
  /** All part headers, names lower-cased. */
  headers: Record<string, string>;
  data: Buffer;
}

/** The `boundary` parameter of a `multipart/form-data` content type, or null when it is not one. */
export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const params = parseParams(contentType.slice(contentType.indexOf(";") + 1));
  const b = params.boundary;
  return b && b.length <= 70 ? b : null;
}

/** `name="a"; filename="b.ogg"` → `{name: "a", filename: "b.ogg"}` (names lower-cased, quoted strings unescaped). */
function parseParams(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ";" || text[i] === " " || text[i] === "\t")) i++;
    const eq = text.indexOf("=", i);
    if (eq < 0) break;
    const key = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = "";
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === "\\" && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      if (i >= n) throw new Error(`multipart: unterminated quoted string in parameter ${key}`);
      i++;
    } else {
      const end = text.indexOf(";", i);
      value = text.slice(i, end < 0 ? n : end).trim();
      i = end < 0 ? n : end;
    }
    if (key) out[key] = value;
  }
  return out;
}

/** Undo the WHATWG form-data escapes undici and browsers apply to names and file names. */
const unescapeName = (s: string) => s.replace(/%22/g, '"').replace(/%0D/gi, "\r").replace(/%0A/gi, "\n");

/** RFC 5987 `utf-8''voice%20note.ogg` → `voice note.ogg`; null when not in that form. */
function extValue(s: string | undefined): string | null {
  const m = s ? /^utf-8'[^']*'(.*)$/i.exec(s) : null;
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    throw new Error("multipart: bad percent-encoding in an extended parameter");
  }
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

/** Split a multipart body into its parts. Throws on a missing first or closing delimiter, or a part without a name. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may open the body, or follow a preamble (then it is preceded by CRLF like the others).
  let pos: number;
  if (body.subarray(0, dash.length).equals(dash)) pos = dash.length;
  else {
    const at = body.indexOf(delimiter);
    if (at < 0) throw new Error("multipart: no opening boundary");
    pos = at + delimiter.length;
  }
  const parts: MultipartPart[] = [];
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // the close delimiter `--boundary--`
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++; // transport padding
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw new Error("multipart: a boundary line does not end with CRLF");
    pos += 2;
    let headerText = "";
    let contentStart: number;
    if (body.subarray(pos, pos + 2).equals(CRLF))
      contentStart = pos + 2; // a part without headers
    else {
      const end = body.indexOf(HEADER_END, pos);
      if (end < 0) throw new Error("multipart: part headers never end");
      headerText = body.subarray(pos, end).toString("utf8");
      contentStart = end + HEADER_END.length;
    }
    const next = body.indexOf(delimiter, contentStart);
    if (next < 0) throw new Error("multipart: no closing boundary");
    const headers: Record<string, string> = {};
    for (const line of headerText ? headerText.split("\r\n") : []) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`multipart: bad header line ${JSON.stringify(line)}`);
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const disposition = headers["content-disposition"] ?? "";
    if (!/^\s*form-data\s*(;|$)/i.test(disposition)) throw new Error("multipart: a part without Content-Disposition: form-data");
    const params = parseParams(disposition.slice(disposition.indexOf(";") + 1));
    if (params.name === undefined) throw new Error("multipart: a part without a name");
    const filename = extValue(params["filename*"]) ?? (params.filename !== undefined ? unescapeName(params.filename) : null);
    parts.push({
      name: unescapeName(params.name),
      filename,
      contentType: headers["content-type"] ?? null,
      headers,
      data: body.subarray(contentStart, next),
    });
    pos = next + delimiter.length;
  }
}
