/**
 * @module Delivery anomalies: failure, policy-block and timeout rates over the window against the thresholds
 * in `delivery.yaml`, judged only with a minimum sample. One aggregate query over a covering index, so it
 * stays well under 100 ms at 100,000 rows (`npm run bench`).
 */
import type { CommsDelivery } from "./contracts.ts";
import type { CommsStore, DeliveryCounts } from "../../store/index.ts";

const ANOMALY_METRICS = ["failure_rate", "policy_block_rate", "timeout_rate"] as const;
type AnomalyMetric = (typeof ANOMALY_METRICS)[number];

export interface MetricResult {
  key: AnomalyMetric;
  count: number;
  rate: number;
  threshold: number;
  breached: boolean;
}

export interface AnomalyReport {
  reason_code: "anomaly_detected" | "anomaly_none" | "anomaly_insufficient_sample";
  window_minutes: number;
  since_ms: number;
  min_sample: number;
  counts: DeliveryCounts;
  metrics: MetricResult[];
  /** Metrics over their threshold (empty below the minimum sample). */
  anomalies: AnomalyMetric[];
}

/** Judge counts against thresholds. Pure. A metric is breached when its rate is strictly above the threshold. */
function judgeAnomalies(counts: DeliveryCounts, cfg: CommsDelivery["anomaly"], sinceMs: number): AnomalyReport {
  const sampleOk = counts.total >= cfg.min_sample;
  const metric = (key: AnomalyMetric, count: number, threshold: number): MetricResult => {
    const rate = counts.total === 0 ? 0 : count / counts.total;
    return { key, count, rate: Math.round(rate * 10_000) / 10_000, threshold, breached: sampleOk && rate > threshold };
  };
  const metrics = [
    metric("failure_rate", counts.failed, cfg.thresholds.failure_rate),
    metric("policy_block_rate", counts.policy_blocked, cfg.thresholds.policy_block_rate),
    metric("timeout_rate", counts.timeout, cfg.thresholds.timeout_rate),
  ];
  const anomalies = metrics.filter((m) => m.breached).map((m) => m.key);
  return {
    reason_code: !sampleOk ? "anomaly_insufficient_sample" : anomalies.length ? "anomaly_detected" : "anomaly_none",
    window_minutes: cfg.window_minutes,
    since_ms: sinceMs,
    min_sample: cfg.min_sample,
    counts,
    metrics,
    anomalies,
  };
}

/** Current anomaly report at `now`. */
export function anomalyReport(store: CommsStore, cfg: CommsDelivery["anomaly"], now: number): AnomalyReport {
  const since = now - cfg.window_minutes * 60_000;
  return judgeAnomalies(store.deliveryCounts(since), cfg, since);
}

/** One line per metric, for chat. */
export function describeAnomalies(r: AnomalyReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const head =
    r.reason_code === "anomaly_insufficient_sample"
      ? `Not judged: ${r.counts.total} deliveries in the last ${r.window_minutes} min (need ${r.min_sample}).`
      : r.anomalies.length
        ? `Anomaly: ${r.anomalies.join(", ")} over the last ${r.window_minutes} min (${r.counts.total} deliveries).`
        : `No anomaly over the last ${r.window_minutes} min (${r.counts.total} deliveries).`;
  return [
    head,
    ...r.metrics.map((m) => `${m.key}: ${pct(m.rate)} (${m.count}) vs ${pct(m.threshold)}${m.breached ? "  ← over" : ""}`),
  ].join("\n");
}
