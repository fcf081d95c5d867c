/**
 * @module Bench helper: a large valid PNG made by code. Pixels come from a seeded xorshift, so deflate cannot shrink
 * them and the file is as big as asked (a one-colour `makePng` compresses to a few hundred bytes, whatever its size).
 */
import zlib from "node:zlib";

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td));
  return Buffer.concat([head, td, crc]);
}

/** An RGB PNG of at least `minBytes` (512 pixels wide, as many rows as it takes) with noise pixels. */
export function makeNoisyPng(minBytes: number, seed = 1): Buffer {
  const w = 512;
  const rowBytes = 1 + 3 * w;
  const h = Math.max(1, Math.ceil(minBytes / rowBytes));
  const raw = Buffer.alloc(rowBytes * h);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < raw.length; i++) {
    if (i % rowBytes === 0) continue; // filter byte 0 (None) per row
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    raw[i] = x & 0xff;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw, { level: 1 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
