-- 018: tokens per responder and UTC day, added to as each call is recorded (in the same unit of work). The daily token
-- budget read the sum of every call of the day before each job (twice): a cost that grew through the day with the
-- calls made (86,400 rows per job by midnight at one call a second). Filled from the calls already recorded.
CREATE TABLE responder_usage_daily (
  responder TEXT NOT NULL,
  day_ms    INTEGER NOT NULL,
  tokens    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (responder, day_ms)
);
INSERT INTO responder_usage_daily (responder, day_ms, tokens)
  SELECT responder, at_ms - (at_ms % 86400000), SUM(input_tokens + output_tokens) FROM responder_calls
  GROUP BY responder, at_ms - (at_ms % 86400000);
