/** @module `/tau pairing list|approve|deny|revoke` (operator): manage one-time pairing codes. */
import { z } from "zod";
import { TRANSPORTS } from "../../contracts/envelope.ts";
import { decidePairingApproval, normalizePairingCode } from "../../policy/index.ts";
import { defineCapability, failed, reported, type CapabilityContext } from "../capability.ts";

export const pairingListCapability = defineCapability({
  id: "tau.pairing.list",
  alias: ["pairing", "list"],
  summary: "pending and recent pairing requests",
  args: z.object({}).strict(),
  role: "operator",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) => {
    const now = ctx.now;
    const rows = ctx.services.store.access
      .listPairings()
      .map((r) => ({ ...r, status: r.status === "pending" && r.expires_at_ms <= now ? "expired" : r.status }));
    const pending = rows.filter((r) => r.status === "pending");
    const text = pending.length
      ? [
          "Pending pairing requests:",
          ...pending.map(
            (r) =>
              `${r.code}  ${r.actor_key}${r.display ? ` (${r.display})` : ""}  expires in ${Math.max(0, Math.round((r.expires_at_ms - now) / 60_000))} min`,
          ),
        ].join("\n")
      : "No pending pairing requests.";
    return reported("command_pairing_list", text, { pairings: rows });
  },
});

function decideCode(code: string, action: "approved" | "denied", ctx: CapabilityContext) {
  const normalized = normalizePairingCode(code);
  const row = normalized ? ctx.services.store.access.pairingByCode(normalized) : undefined;
  const d = decidePairingApproval({
    code,
    now: ctx.now,
    pending: row
      ? {
          code: row.code,
          actorKey: row.actor_key,
          channelKey: row.channel_key,
          expiresAt: row.expires_at_ms,
          status: row.status as "pending",
        }
      : null,
  });
  const reason = d.outcome === "allow" ? (action === "approved" ? "pairing_approved" : "pairing_denied") : d.reason;
  ctx.services.store.atomically(() => {
    if (d.outcome === "allow") ctx.services.store.access.decidePairing(row!.code, action, ctx.principal, ctx.now);
    ctx.services.audit({
      actor: ctx.principal,
      surface: ctx.surface,
      action: `pairing.${action === "approved" ? "approve" : "deny"}`,
      target: row?.actor_key ?? "unknown",
      args: { code: normalized ?? code },
      outcome: d.outcome,
      reason_code: reason,
    });
  });
  if (d.outcome !== "allow") return failed(reason, `Pairing code ${code} refused: ${REFUSED[reason] ?? reason}.`, { decision: d });
  return reported(reason, `${action === "approved" ? "Paired" : "Denied"} ${row!.actor_key}${row!.display ? ` (${row!.display})` : ""}.`, {
    actor_key: row!.actor_key,
    decision: d,
  });
}

/** Why a pairing code was refused, in words (chat shows the sentence table of src/commands/reason-sentences.ts). */
const REFUSED: Record<string, string> = {
  pairing_code_malformed: "that is not a pairing code",
  pairing_code_unknown: "no pending request has that code",
  pairing_code_already_used: "it was already used",
  pairing_code_expired: "it expired; the user can message the bot again for a new one",
};

const CodeArgs = z.object({ code: z.string().min(1, "a pairing code") }).strict();

export const pairingApproveCapability = defineCapability({
  id: "tau.pairing.approve",
  alias: ["pairing", "approve"],
  summary: "approve a pairing code: the actor may then DM the bot",
  args: CodeArgs,
  positional: ["code"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => decideCode(args.code, "approved", ctx),
});

export const pairingDenyCapability = defineCapability({
  id: "tau.pairing.deny",
  alias: ["pairing", "deny"],
  summary: "deny a pairing code",
  args: CodeArgs,
  positional: ["code"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => decideCode(args.code, "denied", ctx),
});

export const pairingRevokeCapability = defineCapability({
  id: "tau.pairing.revoke",
  alias: ["pairing", "revoke"],
  summary: "revoke a paired actor (<transport>:<actor id>)",
  args: z
    .object({ actor: z.string().regex(new RegExp(`^(${TRANSPORTS.join("|")}):[^\\s*]+$`), "an actor key like telegram:4242") })
    .strict(),
  positional: ["actor"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const done = ctx.services.store.atomically(() => {
      const ok = ctx.services.store.access.revokePairing(args.actor, ctx.principal, ctx.now);
      ctx.services.audit({
        actor: ctx.principal,
        surface: ctx.surface,
        action: "pairing.revoke",
        target: args.actor,
        args: {},
        outcome: ok ? "revoked" : "not_paired",
        reason_code: ok ? "pairing_revoked" : "pairing_not_found",
      });
      return ok;
    });
    return done
      ? reported("pairing_revoked", `Revoked pairing for ${args.actor}.`)
      : failed("pairing_not_found", `${args.actor} is not paired.`);
  },
});
