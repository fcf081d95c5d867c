/** The one health function (PRODUCT.md §10) over explicit facts: each rule on its own, expected verdicts written out. */
import { describe, expect, it } from "vitest";
import { computeHealth, type HealthInputs } from "../../src/health/health.ts";
import type { RunnerState } from "../../src/contracts/health.ts";
import { initialStatus } from "../../src/contracts/connector.ts";

const NOW = 1_765_000_000_000;

function runner(over: Partial<RunnerState> = {}): RunnerState {
  return {
    cycles: 10,
    failure_streak: 0,
    last_cycle_failed: false,
    last_cycle_at_ms: NOW - 100,
    last_cycle_duration_ms: 5,
    queue_depth: 0,
    backlog_age_ms: 0,
    health: "healthy",
    last_reason_codes: ["healthy_cycle"],
    totals: { processed: 0, duplicates: 0, quarantined: 0, failed: 0, replies: 0, delivered: 0 },
    ...over,
  };
}

function inputs(over: Partial<HealthInputs> = {}): HealthInputs {
  return {
    now: NOW,
    runner: runner(),
    queue: { depth: 0, oldest_received_at_ms: null, by_transport: {}, unreadable: [] },
    thresholds: { backlog_threshold_ms: 60_000, stale_after_ms: 30_000 },
    deadLetters: 0,
    commsReplayPending: 0,
    policyState: "ok",
    policyFilesMissing: [],
    configReloadRejected: false,
    commsContractError: null,
    respondersMisconfigured: [],
    calendar: null,
    connectors: [],
    killSwitches: [],
    ...over,
  };
}

const verdict = (i: HealthInputs) => {
  const h = computeHealth(i);
  return { state: h.state, reason_codes: h.reason_codes };
};

describe("computeHealth", () => {
  it("healthy only when nothing is wrong", () => {
    expect(verdict(inputs())).toEqual({ state: "healthy", reason_codes: ["healthy_cycle"] });
    expect(verdict(inputs({ runner: null }))).toEqual({ state: "healthy", reason_codes: ["runner_never_ran"] });
  });

  it("work queued and no runner ever ran: degraded, failing once it waits past the backlog threshold", () => {
    const queued = { depth: 5, oldest_received_at_ms: NOW - 1_000, by_transport: { telegram: 5 }, unreadable: [] };
    expect(verdict(inputs({ runner: null, queue: queued }))).toEqual({
      state: "degraded",
      reason_codes: ["runner_never_ran", "queue_waiting"],
    });
    const old = { ...queued, oldest_received_at_ms: NOW - 61_000 };
    expect(verdict(inputs({ runner: null, queue: old }))).toEqual({
      state: "failing",
      reason_codes: ["runner_never_ran", "queue_waiting", "backlog_over_threshold"],
    });
  });

  it("a backlog older than its threshold degrades even when the runner's own last cycle was healthy", () => {
    const h = computeHealth(
      inputs({ queue: { depth: 3, oldest_received_at_ms: NOW - 90_000, by_transport: { telegram: 3 }, unreadable: [] } }),
    );
    expect(h).toMatchObject({ state: "degraded", reason_codes: ["backlog_over_threshold"], backlog_age_ms: 90_000, queue_depth: 3 });
  });

  it("a runner heartbeat older than stale_after_ms while work is queued is failing; with nothing queued it is not", () => {
    const stale = runner({ last_cycle_at_ms: NOW - 31_000 });
    expect(
      verdict(inputs({ runner: stale, queue: { depth: 1, oldest_received_at_ms: NOW - 10, by_transport: {}, unreadable: [] } })),
    ).toEqual({
      state: "failing",
      reason_codes: ["runner_stale"],
    });
    expect(verdict(inputs({ runner: stale }))).toEqual({ state: "healthy", reason_codes: ["healthy_cycle"] });
  });

  it("failure_streak >= 3 is failing", () => {
    const r = runner({ failure_streak: 3, last_cycle_failed: true, last_reason_codes: ["event_processing_failed"] });
    expect(verdict(inputs({ runner: r }))).toEqual({
      state: "failing",
      reason_codes: ["failure_streak_exceeded", "event_processing_failed"],
    });
  });

  it("each degrading fact has its code", () => {
    const connectors = [{ status: { ...initialStatus("telegram", "polling"), liveness: "stale" as const }, loggedOut: false }];
    const h = verdict(
      inputs({
        runner: runner({ last_reason_codes: ["transient_failures_observed", "dead_letters_created"] }),
        deadLetters: 2,
        commsReplayPending: 1,
        killSwitches: ["outbound"],
        policyState: "reload_rejected",
        policyFilesMissing: ["rbac.yaml"],
        configReloadRejected: true,
        commsContractError: "providers.yaml:3:1: …",
        respondersMisconfigured: ["assistant"],
        connectors,
      }),
    );
    expect(h).toEqual({
      state: "degraded",
      reason_codes: [
        "transient_failures_observed",
        "dead_letters_created",
        "connector_not_live:telegram",
        "dead_letters_present",
        "comms_dead_letters_present",
        "kill_switch_on:outbound",
        "policy_reload_rejected",
        "policy_file_missing:rbac.yaml",
        "config_reload_rejected",
        "comms_contract_invalid",
        "responder_misconfigured:assistant",
      ],
    });
  });

  it("no known-good policy is failing", () => {
    expect(verdict(inputs({ policyState: "no_known_good" }))).toEqual({
      state: "failing",
      reason_codes: ["deny_channel_policy_load_error"],
    });
  });

  it("a configured calendar degrades health when its contract does not load or its server's last answer failed; none is fine", () => {
    expect(verdict(inputs({ calendar: null })).state).toBe("healthy");
    expect(verdict(inputs({ calendar: { contractError: "calendar.yaml:3: bad", serverDown: null } })).reason_codes).toContain(
      "calendar_contract_invalid",
    );
    expect(verdict(inputs({ calendar: { contractError: null, serverDown: "calendar_server_unavailable" } })).reason_codes).toContain(
      "calendar_server_unreachable:calendar_server_unavailable",
    );
  });
});
