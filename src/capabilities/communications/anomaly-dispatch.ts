/**
 * @module `communications.delivery.anomaly.status` and `communications.delivery.anomaly.dispatch` (confirm):
 * judge delivery rates, and for each breached metric not in its cooldown write
 * `state/alerts/ALERT-<key>-<ts>.json` and post to the ops chat through tau's own outbound. `--dry-run` writes
 * and sends nothing and says what it would do.
 */
import path from "node:path";
import { z } from "zod";
import { defineCapability, failed, reported } from "../capability.ts";
import type { ReplyTarget } from "../../contracts/outbound.ts";
import { anomalyReport, describeAnomalies, type MetricResult } from "./anomaly.ts";
import { fileStamp, flag, withDeliveryContract, writePrivateJson } from "./context.ts";

export const anomalyStatusCapability = defineCapability({
  id: "communications.delivery.anomaly.status",
  alias: ["delivery", "anomaly", "status"],
  summary: "failure, policy-block and timeout rates over the window against the thresholds",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) =>
    withDeliveryContract(ctx, (d) => {
      const r = anomalyReport(ctx.services.store.comms, d.anomaly, ctx.now);
      return reported(r.reason_code, describeAnomalies(r), r);
    }),
});

/** `delivery-<metric>`: one cooldown per metric. */
const alertKeyFor = (m: MetricResult) => `delivery-${m.key.replace(/_/g, "-")}`;

export const anomalyDispatchCapability = defineCapability({
  id: "communications.delivery.anomaly.dispatch",
  alias: ["delivery", "anomaly", "dispatch"],
  summary: "alert the ops chat about delivery anomalies (cooldown per alert key; --dry-run)",
  args: z.object({ dry_run: flag }).strict(),
  role: "operator",
  sideEffect: "send",
  approval: "confirm",
  run: (args, ctx) =>
    withDeliveryContract(ctx, (d) => {
      const s = ctx.services;
      const store = s.store.comms;
      const report = anomalyReport(store, d.anomaly, ctx.now);
      if (report.anomalies.length === 0)
        return reported(report.reason_code, `${describeAnomalies(report)}\nNothing to dispatch.`, { report, dispatched: [] });
      const cooldownMs = d.alerts.cooldown_minutes * 60_000;
      const t = d.alerts.target;
      const target: ReplyTarget = {
        transport: t.transport,
        account_id: t.account_id,
        conversation_id: t.conversation_id,
        thread_id: t.thread_id,
        reply_to: null,
      };
      const plans = report.metrics
        .filter((m) => m.breached)
        .map((m) => {
          const key = alertKeyFor(m);
          const last = store.alert(key);
          const coolingUntil = last ? last.last_dispatched_at_ms + cooldownMs : 0;
          const text = `[tau] communications ${m.key.replace(/_/g, " ")} ${(m.rate * 100).toFixed(1)}% > ${(m.threshold * 100).toFixed(1)}% over ${report.window_minutes} min (${m.count}/${report.counts.total} deliveries). Check: ${s.config.commands.prefix} delivery log --status ${m.key === "policy_block_rate" ? "policy_blocked" : m.key === "timeout_rate" ? "timeout" : "failed"}`;
          return {
            key,
            metric: m,
            cooling: ctx.now < coolingUntil,
            cooling_until_ms: coolingUntil,
            text,
            artifact: `ALERT-${key}-${fileStamp(ctx.now)}.json`,
          };
        });
      const due = plans.filter((p) => !p.cooling);
      const where = `${t.transport}:${t.conversation_id}`;
      if (args.dry_run) {
        const lines = plans.map((p) =>
          p.cooling
            ? `would skip ${p.key}: cooldown until ${new Date(p.cooling_until_ms).toISOString()}`
            : `would write alerts/${p.artifact} and post to ${where}: ${p.text}`,
        );
        return reported("alert_dry_run", `Dry run, nothing written or sent.\n${lines.join("\n")}`, { report, plans, dry_run: true });
      }
      if (due.length === 0) {
        const until = Math.min(...plans.map((p) => p.cooling_until_ms));
        s.audit({
          actor: ctx.principal,
          surface: ctx.surface,
          action: "comms.alert.dispatch",
          target: plans.map((p) => p.key).join(","),
          args: {},
          outcome: "refused",
          reason_code: "alert_cooldown_active",
        });
        return failed(
          "alert_cooldown_active",
          `Every anomaly alert is in its cooldown (next at ${new Date(until).toISOString()}); nothing dispatched.`,
          { report, plans },
        );
      }
      const dispatched = due.map((p) => {
        // Queue the chat message, the cooldown and the audit record in one transaction (a crash cannot post twice),
        // then write the artifact.
        const artifactPath = path.join(s.stateDir, "alerts", p.artifact);
        const outboxId = s.store.atomically(() => {
          const id = s.queueMessage(target, p.text, "alert", `comms-alert:${p.key}:${ctx.now}`);
          store.putAlert({ key: p.key, at: ctx.now, path: artifactPath, outbox: id });
          s.audit({
            actor: ctx.principal,
            surface: ctx.surface,
            action: "comms.alert.dispatch",
            target: p.key,
            args: { artifact: artifactPath, outbox_id: id },
            outcome: "dispatched",
            reason_code: "alert_dispatched",
          });
          return id;
        });
        const file = writePrivateJson(s.stateDir, "alerts", p.artifact, {
          alert_key: p.key,
          dispatched_at: new Date(ctx.now).toISOString(),
          dispatched_by: ctx.principal,
          metric: p.metric,
          window_minutes: report.window_minutes,
          counts: report.counts,
          target,
          outbox_id: outboxId,
          text: p.text,
        });
        return { key: p.key, artifact: file.path, sha256: file.sha256, outbox_id: outboxId };
      });
      const skipped = plans.filter((p) => p.cooling).map((p) => p.key);
      return reported(
        "alert_dispatched",
        `Dispatched ${dispatched.map((d) => d.key).join(", ")} to ${where}${skipped.length ? `; still cooling down: ${skipped.join(", ")}` : ""}.`,
        { report, dispatched, skipped },
      );
    }),
});
