-- The backoff rule of core/backoff (Policy.Seconds), written once for SQL. The
-- deterministic jitter constants mirror core/backoff; TestDelayMatchesSQL holds the
-- two equal.
CREATE FUNCTION tasker_backoff_seconds(
    strategy text, base_seconds double precision, multiplier double precision,
    cap_seconds double precision, jitter double precision,
    step_id bigint, attempts integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT LEAST(
               CASE strategy
                   WHEN 'linear' THEN base_seconds * GREATEST(attempts, 1)
                   WHEN 'fixed' THEN base_seconds
                   -- At or past the cap the delay is the cap: power() itself is not
                   -- computed there, as it raises an overflow error where Go's
                   -- math.Pow gives +Inf (a step retried a few thousand times).
                   ELSE CASE
                       WHEN base_seconds = 0 THEN 0
                       WHEN multiplier > 1 AND GREATEST(attempts, 1) * ln(multiplier) + ln(base_seconds)
                                               >= ln(GREATEST(cap_seconds, 1e-300)) THEN cap_seconds
                       ELSE base_seconds * power(multiplier, GREATEST(attempts, 1))
                   END
               END,
               cap_seconds)
           * (1 - jitter * ((((step_id % 9973 + 9973) % 9973) * 7919
                             + ((GREATEST(attempts, 1) % 10007) * 104729)) % 10007)::double precision / 10007)
$$;
