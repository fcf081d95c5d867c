/** The watchdog's decisions as values: transitions, dedupe, cooldown, pause, severities per kind (runbook alert matrix). */
import { describe, expect, it } from "vitest";
import { planAlerts, type AlertPlanInput } from "../../src/health/alert-plan.ts";
import type { HealthView } from "../../src/health/health.ts";
import type { AlertStateRow } from "../../src/store/index.ts";

const T0 = 1_765_000_000_000;

function health(state: HealthView["state"], reason_codes: string[]): HealthView {
  return { state, reason_codes, failure_streak: 0, queue_depth: 0, backlog_age_ms: 0, heartbeat_age_ms: 50, checked_at_ms: T0 };
}
const HEALTHY = health("healthy", ["healthy_cycle"]);

/** Run evaluations in sequence, carrying the stored states like the watchdog does. */
function sequence(
  steps: { at: number; health: HealthView; paused?: boolean; severity?: AlertPlanInput["severity"] }[],
  cooldownMs = 60_000,
) {
  let states: AlertStateRow[] = [];
  return steps.map((s) => {
    const plan = planAlerts({
      now: s.at,
      cooldownMs,
      health: s.health,
      anomalies: [],
      previous: states,
      paused: s.paused ?? false,
      severity: s.severity ?? {},
      thresholds: { backlog_threshold_ms: 60_000 },
    });
    const byKey = new Map(states.map((r) => [r.alert_key, r]));
    for (const r of plan.states) byKey.set(r.alert_key, r);
    states = [...byKey.values()];
    return plan;
  });
}

describe("planAlerts", () => {
  it("posts a kill switch once with its runbook severity, stays quiet while it stays on, then posts the recovery", () => {
    const on = health("degraded", ["kill_switch_on:outbound"]);
    const [first, again, off] = sequence([
      { at: T0, health: on },
      { at: T0 + 1000, health: on },
      { at: T0 + 2000, health: HEALTHY },
    ]);
    expect(first!.transitions.map((t) => [t.key, t.transition, t.severity])).toEqual([
      ["kill_switch_on:outbound", "firing", "SEV-2"],
      ["health", "firing", "SEV-3"],
    ]);
    expect(first!.severity).toBe("SEV-2");
    expect(first!.message!.split("\n").slice(0, 2)).toEqual([
      "[tau] SEV-2 · health degraded",
      "+ SEV-2 kill switch on: outbound — confirm containment, scope and follow-up evidence: tau incident open",
    ]);
    expect(again!.message).toBeNull();
    expect(off!.transitions.map((t) => [t.key, t.transition])).toEqual([
      ["kill_switch_on:outbound", "recovered"],
      ["health", "recovered"],
    ]);
    expect(off!.message).toBe("[tau] RECOVERED · health healthy\n- cleared: kill switch on: outbound (after 2 s)");
  });

  it("a key that recovered is not posted again within the cooldown, and is posted when the cooldown ends if still on", () => {
    const on = health("degraded", ["connector_not_live:telegram"]);
    const plans = sequence(
      [
        { at: T0, health: on },
        { at: T0 + 1_000, health: HEALTHY },
        { at: T0 + 2_000, health: on },
        { at: T0 + 30_000, health: on },
        { at: T0 + 61_000, health: on },
      ],
      60_000,
    );
    expect(plans.map((p) => p.transitions.map((t) => `${t.transition}:${t.key}`))).toEqual([
      ["firing:connector_not_live:telegram", "firing:health"],
      ["recovered:connector_not_live:telegram", "recovered:health"],
      [],
      [],
      ["firing:connector_not_live:telegram", "firing:health"],
    ]);
  });

  it("degraded → failing is posted as a change with the failing severity; a single failed cycle alone is not an alert", () => {
    const [a, b] = sequence([
      { at: T0, health: health("degraded", ["backlog_over_threshold"]) },
      { at: T0 + 1000, health: health("failing", ["runner_stale", "backlog_over_threshold"]) },
    ]);
    expect(a!.transitions.map((t) => `${t.transition}:${t.key}:${t.severity}`)).toEqual([
      "firing:backlog_over_threshold:SEV-2",
      "firing:health:SEV-3",
    ]);
    expect(b!.transitions.map((t) => `${t.transition}:${t.key}:${t.severity}`)).toEqual([
      "firing:runner_stale:SEV-2",
      "changed:health:SEV-1",
    ]);
    expect(b!.severity).toBe("SEV-1");
    const [blip] = sequence([{ at: T0, health: health("degraded", ["event_processing_failed"]) }]);
    expect(blip!.message).toBeNull();
  });

  it("while paused nothing is posted; on resume the firing keys are posted, and an owed recovery too", () => {
    const on = health("degraded", ["kill_switch_on:responders", "dead_letters_present"]);
    const plans = sequence([
      { at: T0, health: on, paused: true },
      { at: T0 + 1000, health: on },
      { at: T0 + 2000, health: health("degraded", ["dead_letters_present"]), paused: true },
      { at: T0 + 3000, health: health("degraded", ["dead_letters_present"]) },
    ]);
    expect(plans.map((p) => p.transitions.map((t) => `${t.transition}:${t.key}`))).toEqual([
      [],
      ["firing:kill_switch_on:responders", "firing:dead_letters_present", "firing:health"],
      [],
      ["recovered:kill_switch_on:responders"],
    ]);
    expect(plans[3]!.message).toBe(
      "[tau] CLEARED · health degraded\n- cleared: kill switch on: responders (after 3 s)\nreasons: dead_letters_present",
    );
  });

  it("tau.yaml alerts.severity overrides a kind's severity", () => {
    const [p] = sequence([{ at: T0, health: health("degraded", ["connector_not_live:discord"]), severity: { connector: "SEV-1" } }]);
    expect(p!.transitions[0]).toMatchObject({ key: "connector_not_live:discord", severity: "SEV-1" });
    expect(p!.severity).toBe("SEV-1");
  });

  it("a breached delivery anomaly is an alert of its own", () => {
    const plan = planAlerts({
      now: T0,
      cooldownMs: 0,
      health: HEALTHY,
      anomalies: [{ metric: "failure_rate", rate: 0.25, threshold: 0.2, count: 5, total: 20, window_minutes: 60 }],
      previous: [],
      paused: false,
      severity: {},
      thresholds: { backlog_threshold_ms: 60_000 },
    });
    // Health is healthy (anomalies are about email/SMS deliveries): no health line, the anomaly alone is posted.
    expect(plan.transitions.map((t) => `${t.transition}:${t.key}:${t.severity}`)).toEqual(["firing:delivery_anomaly:failure_rate:SEV-2"]);
    expect(plan.message!.split("\n")[1]).toBe(
      "+ SEV-2 delivery failure rate 25.0% > 20.0% over 60 min (5/20) — halt sends, inspect /tau delivery log --status failed",
    );
  });
});
