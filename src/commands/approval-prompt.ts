/**
 * @module Prompts with Approve / Deny buttons: an approval request in the chat it came from, a pairing request in
 * an ops chat. Each button carries a fresh opaque token (`tau:<random>`) stored with what it does, where it was
 * posted and when it expires; the prompt also says the typed command, for platforms (or WhatsApp groups) without
 * buttons.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { BUTTON_TOKEN_PREFIX, type Reply, type ReplyButton } from "../contracts/reply.ts";
import type { ButtonAction, Store } from "../store/index.ts";

export interface PromptDeps {
  store: Pick<Store, "buttons">;
  randomBytes?: (n: number) => Uint8Array;
}

/** How long an expired token is kept, so a late press still answers "expired". */
const TOKEN_RETENTION_MS = 7 * 24 * 3_600_000;

/** Where a prompt is posted and until when its buttons work. */
interface ButtonScope {
  transport: string;
  conversationId: string;
  now: number;
  expiresAt: number;
}

/** A new token: `tau:` + 16 url-safe characters (12 random bytes) — 20 bytes, far under Telegram's 64. */
export function newButtonToken(randomBytes?: (n: number) => Uint8Array): string {
  const bytes = randomBytes ? randomBytes(12) : nodeRandomBytes(12);
  return BUTTON_TOKEN_PREFIX + Buffer.from(bytes).toString("base64url");
}

/** Store one token per button and return the buttons. */
function issueButtons(
  deps: PromptDeps,
  scope: ButtonScope,
  target: { id: string; hash: string | null },
  specs: { label: string; action: ButtonAction; style: ReplyButton["style"] }[],
): ReplyButton[] {
  // Tokens long expired are forgotten (a press then reads "not valid"); for a week it still reads "expired".
  deps.store.buttons.prune(scope.now - TOKEN_RETENTION_MS);
  return specs.map((b) => {
    const token = newButtonToken(deps.randomBytes);
    deps.store.buttons.insert({
      token,
      action: b.action,
      target_id: target.id,
      target_hash: target.hash,
      transport: scope.transport,
      conversation_id: scope.conversationId,
      created_at_ms: scope.now,
      expires_at_ms: scope.expiresAt,
    });
    return { label: b.label, data: token, style: b.style };
  });
}

const minutes = (ms: number) => Math.max(1, Math.round(ms / 60_000));

/** An approval request's prompt, with Approve / Deny buttons (tokens stored in the caller's unit of work). */
export function approvalPrompt(
  deps: PromptDeps,
  p: {
    prefix: string;
    command: string;
    kind: "confirm" | "two_person";
    id: string;
    hash: string;
    requester: string;
    expiresAt: number;
    now: number;
    transport: string;
    conversationId: string;
  },
): Reply {
  const short = p.hash.slice(0, 8);
  const buttons = issueButtons(
    deps,
    { transport: p.transport, conversationId: p.conversationId, now: p.now, expiresAt: p.expiresAt },
    { id: p.id, hash: short },
    [
      { label: "Approve", action: "approve", style: "success" },
      { label: "Deny", action: "deny", style: "danger" },
    ],
  );
  const who = p.kind === "two_person" ? "A second operator (not you)" : "You or another operator";
  return {
    title: `Approval needed: ${p.prefix} ${p.command}`,
    blocks: [
      {
        kind: "fields",
        fields: [
          { label: "Requested by", value: p.requester },
          { label: "Approval", value: p.kind === "two_person" ? "two people" : "confirm" },
          { label: "Expires in", value: `${minutes(p.expiresAt - p.now)} min` },
        ],
      },
      {
        kind: "text",
        text: `${who} can press Approve or Deny, or type: ${p.prefix} approve ${p.id} ${short}  (or ${p.prefix} deny ${p.id})`,
      },
    ],
    buttons,
  };
}

/** A pairing request's prompt for an ops chat, with Approve / Deny buttons. */
export function pairingPrompt(
  deps: PromptDeps,
  p: {
    prefix: string;
    code: string;
    actor: string;
    display: string | null;
    expiresAt: number;
    now: number;
    transport: string;
    conversationId: string;
  },
): Reply {
  const buttons = issueButtons(
    deps,
    { transport: p.transport, conversationId: p.conversationId, now: p.now, expiresAt: p.expiresAt },
    { id: p.code, hash: null },
    [
      { label: "Approve", action: "pair_approve", style: "success" },
      { label: "Deny", action: "pair_deny", style: "danger" },
    ],
  );
  return {
    title: "Pairing request",
    blocks: [
      {
        kind: "fields",
        fields: [
          { label: "From", value: p.display ? `${p.actor} (${p.display})` : p.actor },
          { label: "Code", value: p.code },
          { label: "Expires in", value: `${minutes(p.expiresAt - p.now)} min` },
        ],
      },
      { kind: "text", text: `Press Approve or Deny, or type: ${p.prefix} pairing approve ${p.code}` },
    ],
    buttons,
  };
}
