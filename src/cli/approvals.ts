/** @module `tau approvals list|approve <id>|deny <id>` and `tau audit verify|list`. */
import type { Command } from "commander";
import { verifyAudit } from "../audit/audit-log.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit, table } from "./output.ts";
import { runNamedCapability, withRunOptions } from "./run-capability.ts";

export function registerApprovals(program: Command): void {
  const approvals = program.command("approvals").description("pending approval requests (confirm / two_person)");
  approvals
    .command("list")
    .option("--all", "include decided and expired requests")
    .option("--json", "machine-readable")
    .action((o: { all?: boolean }, cmd: Command) => {
      const { app } = servicesFor(cmd);
      try {
        const now = app.clock();
        const rows = app.store.commands
          .listApprovals()
          .map((r) => ({
            ...r,
            args: JSON.parse(r.args) as unknown,
            status: r.status === "pending" && r.expires_at_ms <= now ? "expired" : r.status,
          }))
          .filter((r) => o.all || r.status === "pending");
        emit(globals(cmd).json, rows, () =>
          rows.length
            ? table([
                ["id", "command", "kind", "requester", "status", "expires"],
                ...rows.map((r) => [r.id, r.command, r.approval, r.requester, r.status, new Date(r.expires_at_ms).toISOString()]),
              ])
            : "no pending approvals",
        );
      } finally {
        app.close();
      }
    });
  for (const action of ["approve", "deny"] as const) {
    // Approving is itself the confirmation (tau.approve/deny declare none); a two_person request needs a principal
    // other than its requester: another OS user, or `--as` a principal listed in policies/rbac.yaml.
    withRunOptions(
      approvals
        .command(action)
        .description(
          action === "approve" ? "approve and run a pending request (two_person: not as its requester)" : "deny a pending request",
        )
        .argument("<id>", "approval id (ap_…)")
        .argument("[hash]", "the argument hash prefix shown with the request"),
    )
      .option("--json", "machine-readable")
      .action((id: string, hash: string | undefined, o: { yes?: boolean; as?: string }, cmd: Command) =>
        runNamedCapability(cmd, action === "approve" ? "tau.approve" : "tau.deny", hash ? [id, hash] : [id], {}, o),
      );
  }

  const audit = program.command("audit").description("the append-only, hash-chained audit log");
  audit
    .command("verify")
    .description("recompute the hash chain; exit 1 if any row was edited, inserted or deleted")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const { app } = servicesFor(cmd);
      try {
        const r = verifyAudit(app.store);
        emit(globals(cmd).json, r, () =>
          r.ok
            ? `audit ok: ${r.rows} rows, chain intact`
            : [`audit FAILED (${r.problems.length} problems):`, ...r.problems.map((p) => `  seq ${p.seq}: ${p.code} — ${p.detail}`)].join(
                "\n",
              ),
        );
        if (!r.ok) process.exitCode = 1;
      } finally {
        app.close();
      }
    });
  audit
    .command("list")
    .option("--limit <n>", "most recent N", "20")
    .option("--json", "machine-readable")
    .action((o: { limit: string }, cmd: Command) => {
      const { app } = servicesFor(cmd);
      try {
        const rows = app.store.audit
          .recent(Number(o.limit))
          .map(({ prev_hash: _p, hash: _h, ...r }) => ({ ...r, args: JSON.parse(r.args) as unknown }));
        emit(globals(cmd).json, rows, () =>
          table([
            ["seq", "actor", "action", "target", "outcome", "reason"],
            ...rows.map((r) => [r.seq, r.actor, r.action, r.target, r.outcome, r.reason_code]),
          ]),
        );
      } finally {
        app.close();
      }
    });
}
