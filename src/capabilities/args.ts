/**
 * @module Capability arguments from chat words and flags (or CLI `--arg k=v`), validated by the capability's
 * zod schema, and their canonical hash (approvals refuse changed arguments).
 */
import { createHash } from "node:crypto";
import type { AnyCapability } from "./registry.ts";

export type ArgsResult = { ok: true; args: Record<string, unknown> } | { ok: false; detail: string };

/** Positional words fill `positional` names in order; extra words join into the last one. Flags map `--top-n` → `top_n`. */
export function buildArgs(cap: AnyCapability, words: readonly string[], flags: Record<string, string | true>): ArgsResult {
  const raw: Record<string, unknown> = {};
  const names = cap.positional ?? [];
  if (words.length > 0 && names.length === 0)
    return { ok: false, detail: `${cap.alias.join(" ")} takes no positional arguments (got "${words.join(" ")}")` };
  names.forEach((name, i) => {
    if (i >= words.length) return;
    raw[name] = i === names.length - 1 ? words.slice(i).join(" ") : words[i];
  });
  for (const [k, v] of Object.entries(flags)) raw[k.replace(/-/g, "_")] = v;
  const r = cap.args.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = i.path.join(".") || "(arguments)";
    const detail =
      i.code === "unrecognized_keys"
        ? `unknown argument ${(i as { keys: string[] }).keys.map((k) => `--${k}`).join(", ")}`
        : `${field}: ${i.message}`;
    return { ok: false, detail };
  }
  return { ok: true, args: r.data as Record<string, unknown> };
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** sha256 over the capability id and canonical JSON arguments. */
export function argsHash(capabilityId: string, args: Record<string, unknown>): string {
  return createHash("sha256")
    .update(JSON.stringify([capabilityId, canonical(args)]))
    .digest("hex");
}

/** The reply footer (PRODUCT.md §2.2). */
export function footer(prefix: string, command: string, status: "reported" | "failed" | "pending_approval", reason: string): string {
  return `tau ${prefix} ${command} | status ${status} | reason_code ${reason}`;
}
