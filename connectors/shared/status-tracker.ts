/**
 * @module Connector status bookkeeping: the counters of `ConnectorStatus`, a failure streak, and the
 * liveness rule every connector shares. Each change is pushed to `onStatus` (persisted by the runtime).
 */
import type { Transport } from "../../src/contracts/envelope.ts";
import { initialStatus, type ConnectorStatus } from "./connector.ts";

type Liveness = ConnectorStatus["liveness"];
/** Which counter a failure bumps; `null` counts only toward the streak (e.g. an ingress append failure). */
export type FailureKind = "auth" | "parse" | "provider" | null;

interface StatusTrackerOptions {
  transport: Transport;
  mode: string;
  clock: () => number;
  onStatus?: ((status: ConnectorStatus) => void) | undefined;
  /**
   * Max age of the last success for the connector to count as live; `null` = live whenever running
   * (webhooks: silence is not a fault, the provider simply had nothing to send).
   */
  staleAfterMs: number | null;
}

/** Consecutive intake failures at which a connector is reported `failing`. */
const FAILING_STREAK = 3;

export class StatusTracker {
  running = false;
  /** Consecutive failures of intake (not parse failures, not refused webhook callers). */
  failureStreak = 0;
  private lastFailureKind: FailureKind = null;
  private readonly s: ConnectorStatus;
  /** Extra liveness veto from the connector (e.g. the gateway is not connected). */
  connected: () => boolean = () => true;

  constructor(private readonly opts: StatusTrackerOptions) {
    this.s = initialStatus(opts.transport, opts.mode);
  }

  /** The status record with liveness computed now. */
  status(): ConnectorStatus {
    return { ...this.s, liveness: this.liveness() };
  }

  liveness(): Liveness {
    if (!this.running) return "stopped";
    if (this.failureStreak > 0 && this.lastFailureKind === "auth") return "failing";
    if (this.failureStreak >= FAILING_STREAK) return "failing";
    if (!this.connected()) return "stale";
    if (this.opts.staleAfterMs === null) return "live";
    const last = this.s.last_success_unix_ms;
    return last !== null && this.opts.clock() - last <= this.opts.staleAfterMs ? "live" : "stale";
  }

  setRunning(running: boolean): void {
    this.running = running;
    if (running) this.failureStreak = 0;
    this.emit();
  }

  /** Intake worked (a completed poll, an accepted webhook, a gateway heartbeat). */
  success(): void {
    this.s.last_success_unix_ms = this.opts.clock();
    this.failureStreak = 0;
    this.lastFailureKind = null;
    this.emit();
  }

  ingested(n: number): void {
    if (n <= 0) return;
    this.s.events_ingested += n;
    this.emit();
  }

  duplicates(n: number): void {
    if (n <= 0) return;
    this.s.duplicates_skipped += n;
    this.emit();
  }

  retry(): void {
    this.s.retry_attempts += 1;
    this.emit();
  }

  /** An intake failure with a reason code; bumps the matching counter and (except parse failures) the streak. */
  failure(kind: FailureKind, code: string): void {
    if (kind === "auth") this.s.auth_failures += 1;
    else if (kind === "parse") this.s.parse_failures += 1;
    else if (kind === "provider") this.s.provider_failures += 1;
    if (kind !== "parse") {
      this.failureStreak += 1;
      this.lastFailureKind = kind;
    }
    this.s.last_error_code = code;
    this.s.last_error_unix_ms = this.opts.clock();
    this.emit();
  }

  /** A webhook caller was refused (bad secret or signature): counted as an auth failure, not a fault of ours. */
  refused(code: string): void {
    this.s.auth_failures += 1;
    this.s.last_error_code = code;
    this.s.last_error_unix_ms = this.opts.clock();
    this.emit();
  }

  /** Record a code without counting a failure (e.g. `logout_requested`). */
  note(code: string): void {
    this.s.last_error_code = code;
    this.s.last_error_unix_ms = this.opts.clock();
    this.emit();
  }

  emit(): void {
    this.opts.onStatus?.(this.status());
  }
}
