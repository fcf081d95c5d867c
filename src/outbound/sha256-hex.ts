/** @module SHA-256 of a string as hex, the one-shot way where Node has it (`crypto.hash`, Node ≥ 20.12: about twice as fast per id). */
import crypto from "node:crypto";

type OneShot = (algorithm: string, data: string, encoding: "hex") => string;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

/** Hex SHA-256 of `data` (UTF-8). */
export const sha256Hex: (data: string) => string = oneShot
  ? (data) => oneShot("sha256", data, "hex")
  : (data) => crypto.createHash("sha256").update(data).digest("hex");
