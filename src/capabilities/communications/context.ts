/**
 * @module What every communications capability shares: where the contracts live, loading them (a bad file is a
 * `comms_contract_invalid` answer naming file, line and field, not a crash), argument helpers, time formats
 * and private artifact files.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { failed, type CapabilityContext, type CapabilityResult } from "../capability.ts";
import type { Services } from "../services.ts";
import { describeError, TauError } from "../../contracts/errors.ts";
import { ensurePrivateDir } from "../../store/index.ts";
import { commsContractsDir, loadCommsContracts, loadCommsFile, type CommsContracts, type CommsDelivery } from "./contracts.ts";

/**
 * `Services` plus the absolute policies folder. Until `Services.policiesDir` exists, the folder is resolved
 * like `tau.yaml` does by default: `policies_dir` relative to the folder holding the state dir.
 */
export type CommsServices = Services & { policiesDir?: string };

/** The absolute policies folder. */
export function policiesDirOf(s: Services): string {
  const explicit = (s as CommsServices).policiesDir;
  return explicit ?? path.resolve(path.dirname(s.stateDir), s.config.policies_dir);
}

/** `<policies>/communications`. */
export function commsDirOf(s: Services): string {
  return commsContractsDir(policiesDirOf(s));
}

async function withLoaded<T>(
  ctx: CapabilityContext,
  load: (dir: string) => T,
  fn: (c: T) => Promise<CapabilityResult> | CapabilityResult,
): Promise<CapabilityResult> {
  if (!ctx.services.config.features.communications)
    return failed("comms_disabled", "Communications are turned off (features.communications: false in tau.yaml).");
  let c: T;
  try {
    c = load(commsDirOf(ctx.services));
  } catch (err) {
    if (!(err instanceof TauError)) throw err;
    return failed("comms_contract_invalid", `Communications contracts are invalid: ${describeError(err)}`, { error: err.toJSON() });
  }
  return fn(c);
}

/** Load the contracts and run `fn`; invalid contracts answer `comms_contract_invalid` with the file:line message. */
export function withContracts(
  ctx: CapabilityContext,
  fn: (c: CommsContracts) => Promise<CapabilityResult> | CapabilityResult,
): Promise<CapabilityResult> {
  return withLoaded(ctx, loadCommsContracts, fn);
}

/** Like `withContracts` with `delivery.yaml` alone (alerting keeps working when a send contract is broken). */
export function withDeliveryContract(
  ctx: CapabilityContext,
  fn: (d: CommsDelivery) => Promise<CapabilityResult> | CapabilityResult,
): Promise<CapabilityResult> {
  return withLoaded(ctx, (dir) => loadCommsFile(dir, "delivery"), fn);
}

// ------------------------------------------------------------------------------------------------ arguments
const TRUE = new Set(["true", "yes", "1", "on"]);
const FALSE = new Set(["false", "no", "0", "off"]);

/** A boolean flag: `--write` (true), or `--arg write=true` / `false` from the CLI. */
export const flag = z
  .union([
    z.boolean(),
    z
      .string()
      .refine((v) => TRUE.has(v.toLowerCase()) || FALSE.has(v.toLowerCase()), "true or false")
      .transform((v) => TRUE.has(v.toLowerCase())),
  ])
  .default(false);

/** A positive integer argument given as a number or a string. */
export const limit = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def);

/** `--since 15m|2h|7d` or an ISO time → epoch ms (null when the text is neither). */
export function parseSince(s: string, now: number): number | null {
  const m = s.trim().match(/^(\d+)(s|m|h|d)$/);
  if (m) return now - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s"];
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

/** `20260223T101500Z`: sortable and safe in file names. */
export function fileStamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

/** sha256 hex of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Random id with a prefix, from the injected randomness (`pv_1a2b…`). */
export function newId(s: Services, prefix: string, bytes = 8): string {
  return `${prefix}_${Buffer.from(s.randomBytes(bytes)).toString("hex")}`;
}

/**
 * Write JSON to `<stateDir>/<sub>/<name>` with folder 0700 and file 0600, atomically (temp file, fsync,
 * rename). Returns the path and the sha256 of the bytes written. Refuses to overwrite.
 */
export function writePrivateJson(
  stateDir: string,
  sub: string,
  name: string,
  value: unknown,
): { path: string; sha256: string; bytes: number } {
  const dir = path.join(stateDir, sub);
  ensurePrivateDir(dir);
  const file = path.join(dir, name);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (fs.existsSync(file)) {
    fs.rmSync(tmp);
    throw new TauError("ARTIFACT_EXISTS", `${file} already exists`, { hint: "wait a second and run it again" });
  }
  fs.renameSync(tmp, file);
  return { path: file, sha256: sha256(text), bytes: Buffer.byteLength(text) };
}
