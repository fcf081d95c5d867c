-- 018 (PostgreSQL twin of ../018-responder-usage-daily.sql): tokens per responder and UTC day, kept as calls are
-- recorded, so the daily budget is one row read instead of a sum over the day's calls.
CREATE TABLE responder_usage_daily (
  responder TEXT COLLATE "C" NOT NULL,
  day_ms    BIGINT NOT NULL,
  tokens    BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (responder, day_ms)
);
INSERT INTO responder_usage_daily (responder, day_ms, tokens)
  SELECT responder, at_ms - (at_ms % 86400000), SUM(input_tokens + output_tokens) FROM responder_calls
  GROUP BY responder, at_ms - (at_ms % 86400000);
