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
                   ELSE base_seconds * power(multiplier, GREATEST(attempts, 1))
               END,
               cap_seconds)
           * (1 - jitter * ((((step_id % 9973 + 9973) % 9973) * 7919
                             + ((GREATEST(attempts, 1) % 10007) * 104729)) % 10007)::double precision / 10007)
$$;
