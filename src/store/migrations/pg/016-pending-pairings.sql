-- 016: the pending pairing codes in an index of their own. Every unknown DM asks how many codes are pending on its
-- transport ("at most N pending per channel"); without this the question scanned every pairing ever issued, so a
-- wave of unknown senders slowed the runner more with each one. Partial: only pending rows, ordered by expiry.
CREATE INDEX pairings_pending ON pairings(expires_at_ms) WHERE status = 'pending';
