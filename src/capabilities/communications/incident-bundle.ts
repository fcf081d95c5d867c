/**
 * @module `communications.alerts.incident.bundle.create` (`/tau incident bundle [--write]`): one JSON document
 * for triage — health, health history (the watchdog's transitions), recent runtime events, open incidents with their
 * evidence logs, kill-switch state, alerts firing and posted, delivery anomalies, dead letters and the sha256 of every
 * policy and contract file. `--write` stores it as `state/incidents/BUNDLE-<ts>.json` and prints the file's own
 * sha256. Works with broken contracts too (that is when it is needed).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { commandHint, defineCapability, reported } from "../capability.ts";
import { describeError } from "../../contracts/errors.ts";
import { anomalyReport, describeAnomalies, type AnomalyReport } from "./anomaly.ts";
import { COMMS_FILES, loadCommsContracts, loadCommsFile } from "./contracts.ts";
import { commsDirOf, fileStamp, flag, policiesDirOf, sha256, writePrivateJson } from "./context.ts";

/** sha256 of every `.yaml`/`.json` in the policies folder and its `communications/` folder, by relative path. */
function configHashes(policiesDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const sub of ["", "communications"]) {
    const dir = path.join(policiesDir, sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      if (!/\.(ya?ml|json)$/.test(name)) continue;
      const file = path.join(dir, name);
      if (fs.statSync(file).isFile()) out[path.posix.join(sub, name)] = sha256(fs.readFileSync(file));
    }
  }
  return out;
}

export const incidentBundleCapability = defineCapability({
  id: "communications.alerts.incident.bundle.create",
  alias: ["incident", "bundle"],
  summary: "triage bundle: health, events, anomalies, dead letters, config hashes (--write to save it)",
  args: z.object({ write: flag }).strict(),
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const s = ctx.services;
    const store = s.store.comms;
    let anomalies: AnomalyReport | null = null;
    let contractsError: string | null = null;
    try {
      loadCommsContracts(commsDirOf(s));
    } catch (err) {
      contractsError = describeError(err);
    }
    try {
      anomalies = anomalyReport(store, loadCommsFile(commsDirOf(s), "delivery").anomaly, ctx.now);
    } catch (err) {
      // delivery.yaml itself is broken: the bundle still goes out, with contracts_error saying why.
      contractsError ??= describeError(err);
    }
    const runtimeEvents = s.store.inspect.runtimeEvents({ sinceMs: Number.MIN_SAFE_INTEGER, afterId: 0, limit: 50 }).map((e) => ({
      ...e,
      reason_codes: JSON.parse(e.reason_codes) as unknown,
      detail: JSON.parse(e.detail) as unknown,
    }));
    const outboxDead = store.outboxDeadLetters(50);
    const commsDead = store.deadLetters(50);
    const alerts = store.recentAlerts(20);
    const parseEvent = (e: { reason_codes: string; detail: string }) => ({
      ...e,
      reason_codes: JSON.parse(e.reason_codes) as unknown,
      detail: JSON.parse(e.detail) as unknown,
    });
    const openIncidents = s.store.incidents.open().map((i) => ({
      ...i,
      log: s.store.incidents.logOf(i.incident_id).map((l) => ({ ...l, detail: JSON.parse(l.detail) as unknown })),
    }));
    const bundle = {
      bundle_version: 1,
      created_at: new Date(ctx.now).toISOString(),
      created_by: ctx.principal,
      health: s.health(),
      runtime_events: runtimeEvents,
      anomalies,
      contracts_error: contractsError,
      dead_letters: { outbox: outboxDead, communications: commsDead },
      alerts,
      config_hashes: configHashes(policiesDirOf(s)),
      contract_files: COMMS_FILES,
      health_history: s.store.inspect.runtimeEventsNamed("health.transition", Number.MIN_SAFE_INTEGER, 100).map(parseEvent),
      incidents_open: openIncidents,
      kill_switches: s.store.killswitches.list(),
      ops_alerts: {
        firing: s.store.alerts.states().filter((a) => a.firing),
        recent: s.store.alerts.recent(50),
        undelivered: s.store.alerts.undelivered(50),
      },
    };
    const summary = [
      `Health ${bundle.health.state} (${bundle.health.reason_codes.join(", ")}); ${runtimeEvents.length} recent runtime events, ${bundle.health_history.length} health transitions.`,
      `Open incidents: ${openIncidents.map((i) => i.incident_id).join(", ") || "none"}. Kill switches on: ${
        bundle.kill_switches
          .filter((k) => k.is_on)
          .map((k) => k.scope)
          .join(", ") || "none"
      }.`,
      anomalies ? describeAnomalies(anomalies).split("\n")[0] : `Contracts invalid: ${contractsError}`,
      `Dead letters: ${outboxDead.length} outbox, ${commsDead.length} communications. Config files hashed: ${Object.keys(bundle.config_hashes).length}.`,
    ];
    if (!args.write)
      return reported(
        "incident_bundle_summary",
        `${summary.join("\n")}\nSave it: ${commandHint(ctx, "communications.alerts.incident.bundle.create", [], { write: true })}`,
        bundle,
      );
    const file = writePrivateJson(s.stateDir, "incidents", `BUNDLE-${fileStamp(ctx.now)}.json`, bundle);
    s.audit({
      actor: ctx.principal,
      surface: ctx.surface,
      action: "comms.incident.bundle",
      target: file.path,
      args: { sha256: file.sha256 },
      outcome: "written",
      reason_code: "incident_bundle_written",
    });
    return reported("incident_bundle_written", `${summary.join("\n")}\nWrote ${file.path}\nsha256 ${file.sha256}`, {
      path: file.path,
      sha256: file.sha256,
      bytes: file.bytes,
      bundle,
    });
  },
});
