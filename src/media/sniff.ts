/**
 * @module What a file is, from its first bytes (magic numbers), never from the MIME type a platform or a sender
 * claims: a PNG labelled as a voice note is an image, a zero-byte file is nothing.
 */

export type MediaKind = "image" | "audio" | "video" | "document";

export interface SniffedType {
  mime: string;
  kind: MediaKind;
}

const ascii = (b: Uint8Array, at: number, s: string): boolean => {
  if (b.length < at + s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
};

/** Bytes needed to decide (the longest signature looked at). */
export const SNIFF_BYTES = 64;

/** The type of a file from its head, or null when no known signature matches (including an empty file). */
export function sniff(head: Uint8Array): SniffedType | null {
  const b = head;
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, "PNG\r\n\x1a\n")) return { mime: "image/png", kind: "image" };
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { mime: "image/jpeg", kind: "image" };
  if (ascii(b, 0, "GIF87a") || ascii(b, 0, "GIF89a")) return { mime: "image/gif", kind: "image" };
  if (ascii(b, 0, "RIFF") && ascii(b, 8, "WEBP")) return { mime: "image/webp", kind: "image" };
  if (ascii(b, 0, "RIFF") && ascii(b, 8, "WAVE")) return { mime: "audio/wav", kind: "audio" };
  if (ascii(b, 0, "OggS")) return { mime: "audio/ogg", kind: "audio" };
  if (ascii(b, 0, "fLaC")) return { mime: "audio/flac", kind: "audio" };
  if (ascii(b, 0, "ID3")) return { mime: "audio/mpeg", kind: "audio" };
  if (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xf6) === 0xf0) return { mime: "audio/aac", kind: "audio" };
  if (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xe0) === 0xe0) return { mime: "audio/mpeg", kind: "audio" };
  if (ascii(b, 4, "ftyp")) {
    if (ascii(b, 8, "M4A ") || ascii(b, 8, "M4B ")) return { mime: "audio/mp4", kind: "audio" };
    if (ascii(b, 8, "qt  ")) return { mime: "video/quicktime", kind: "video" };
    if (ascii(b, 8, "3gp")) return { mime: "video/3gpp", kind: "video" };
    return { mime: "video/mp4", kind: "video" };
  }
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return { mime: "video/webm", kind: "video" };
  if (ascii(b, 0, "%PDF-")) return { mime: "application/pdf", kind: "document" };
  return null;
}
