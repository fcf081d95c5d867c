/**
 * @module The `tau status` sections beyond the runner (kill switches, lifecycle, connectors, alerts, incidents, cluster),
 * loaded by `tau status` only. Every section is listed in {@link statusSections}; nothing registers itself.
 */
import type { App } from "../app/open-app.ts";
import { readConnectorStatuses } from "../app/connectors-runtime.ts";
import { nodeIdOf } from "../app/cluster.ts";
import { describeCluster, readClusterView } from "../health/cluster-view.ts";
import { readRunnerState } from "../health/health-facts.ts";
import { readDispatcherControl, readWatchdogHeartbeat } from "../health/watchdog-state.ts";
import { killSwitchStatusSection, lifecycleStatusSection } from "../capabilities/killswitch/status-sections.ts";

export { nodeIdOf };

/** A `tau status` section beyond the runner: every section is listed here, nothing registers itself. */
export interface StatusSection {
  name: string;
  render(app: App): unknown;
  human(app: App): string;
}

const connectorsSection: StatusSection = {
  name: "connectors",
  render: (app) => readConnectorStatuses(app).filter((s) => s.mode !== "disabled"),
  human: (app) =>
    readConnectorStatuses(app)
      .filter((s) => s.mode !== "disabled")
      .map((s) => `${s.transport} ${s.mode} ${s.liveness}${s.last_error_code ? ` (${s.last_error_code})` : ""}`)
      .join(", ") || "none enabled",
};

/** The watchdog: dispatcher running or stopped, its last evaluation, alert keys firing, alerts not delivered yet. */
const alertsSection: StatusSection = {
  name: "alerts",
  render: (app) => {
    const hb = readWatchdogHeartbeat(app.store.kv);
    return {
      dispatcher: readDispatcherControl(app.store.kv)?.state ?? "running",
      watchdog: hb,
      firing: app.store.alerts.states().filter((s) => s.firing),
      undelivered: app.store.alerts.undelivered(50),
    };
  },
  human: (app) => {
    const hb = readWatchdogHeartbeat(app.store.kv);
    const firing = app.store.alerts.states().filter((s) => s.firing);
    const undelivered = app.store.alerts.undelivered(50);
    return [
      `dispatcher ${readDispatcherControl(app.store.kv)?.state ?? "running"}`,
      hb ? `last check ${new Date(hb.last_tick_at_ms).toISOString()} → ${hb.targets.join(", ") || "no ops chat"}` : "no watchdog has run",
      firing.length ? `firing: ${firing.map((f) => `${f.severity} ${f.alert_key}`).join(", ")}` : "nothing firing",
      undelivered.length
        ? `${undelivered.length} undelivered: ${undelivered.map((u) => `${u.outbox_id} ${u.status}${u.reason ? ` (${u.reason})` : ""}`).join(", ")}`
        : "every alert delivered",
    ].join("; ");
  },
};

/** Incidents not closed yet. */
const incidentsSection: StatusSection = {
  name: "incidents",
  render: (app) => app.store.incidents.open(),
  human: (app) => {
    const open = app.store.incidents.open();
    return open.length
      ? open.map((i) => `${i.incident_id} ${i.severity} ${i.status} (${i.scope}): ${i.failure_mode}`).join("; ")
      : "none open";
  },
};

/** The nodes sharing this state (heartbeat age, alive), the poller leases and who holds them, the ingress lag. */
const clusterSection: StatusSection = {
  name: "cluster",
  render: (app) => readClusterView(app.store, nodeIdOf(app.config), app.clock(), readRunnerState(app.store, app.config)),
  human: (app) => describeCluster(readClusterView(app.store, nodeIdOf(app.config), app.clock(), readRunnerState(app.store, app.config))),
};

export const statusSections: readonly StatusSection[] = [
  killSwitchStatusSection,
  lifecycleStatusSection,
  connectorsSection,
  alertsSection,
  incidentsSection,
  clusterSection,
];
