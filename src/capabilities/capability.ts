/**
 * @module What a capability declares (PRODUCT.md §6): id, chat alias, summary, zod arguments, required role,
 * side effect and approval. The CLI (`tau cap run`) and chat (`/tau …`) call the same `run`.
 */
import type { z } from "zod";
import type { Role } from "../contracts/decision.ts";
import type { Services } from "./services.ts";

type SideEffect = "read" | "write" | "send";
type ApprovalKind = "none" | "confirm" | "two_person";

/** Who runs a capability, from where. `principal` is `<transport>:<actor id>` in chat, `cli:<user>` locally. */
export interface CapabilityContext {
  principal: string;
  role: Role;
  surface: "cli" | "chat" | "web";
  now: number;
  services: Services;
  /** The chat a command came from (alerts and approvals reply there); null on the CLI. */
  origin: { transport: string; conversation_id: string } | null;
}

/** A capability's answer: a status for the footer, a reason code, text for chat, data for `--json`. */
export interface CapabilityResult {
  status: "reported" | "failed";
  reason_code: string;
  text: string;
  data?: unknown;
}

export interface Capability<A extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  /** Chat words after the prefix, e.g. ["pairing", "approve"] for `/tau pairing approve CODE`. */
  alias: readonly string[];
  summary: string;
  args: z.ZodType<A>;
  /** Argument names filled, in order, by positional chat/CLI words. */
  positional?: readonly string[];
  role: Role;
  sideEffect: SideEffect;
  approval: ApprovalKind;
  /**
   * Read-only, synchronous, and reading only tau's own store (whoami, help): chat runs it inside the decision's unit of
   * work — its reply, job record and audit record commit with the event — instead of as a job after the commit.
   */
  inline?: boolean;
  run(args: A, ctx: CapabilityContext): Promise<CapabilityResult> | CapabilityResult;
}

/** Identity function that keeps the argument type (like grammY's `Composer.command`). */
export function defineCapability<A extends Record<string, unknown>>(c: Capability<A>): Capability<A> {
  return c;
}

/** Quote a word for a shell or chat line when it holds spaces or quotes. */
const quoteWord = (w: string): string => (/^[^\s"'\\]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`);

/**
 * What to type to run `capabilityId` next, in the syntax of the surface the caller is on: `tau cap run <id> words
 * --flag value` (plus `--yes` when the capability confirms) on the CLI, `/tau <alias> words --flag value` in chat,
 * so a reply never tells a CLI user to type chat syntax or the reverse.
 */
export function commandHint(
  ctx: Pick<CapabilityContext, "surface" | "services">,
  capabilityId: string,
  words: readonly string[] = [],
  flags: Readonly<Record<string, string | true>> = {},
): string {
  const cap = ctx.services.registry.get(capabilityId);
  const rest = [
    ...words.map(quoteWord),
    ...Object.entries(flags).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, quoteWord(v)])),
  ];
  if (ctx.surface === "cli") return ["tau cap run", capabilityId, ...rest, ...(cap?.approval === "confirm" ? ["--yes"] : [])].join(" ");
  return [ctx.services.config.commands.prefix, ...(cap?.alias ?? [capabilityId]), ...rest].join(" ");
}

/** Convenience result builders. */
export const reported = (reason_code: string, text: string, data?: unknown): CapabilityResult => ({
  status: "reported",
  reason_code,
  text,
  data,
});
export const failed = (reason_code: string, text: string, data?: unknown): CapabilityResult => ({
  status: "failed",
  reason_code,
  text,
  data,
});
