-- pipeline_load_times.sql: the load times a freshness SLI is judged by.
-- Grain:      one row per distinct load time, ascending.
-- Inputs:     source_rows(loaded_at): the SLO's table or files, the spec's loadedAt column
--             renamed to loaded_at (any type that casts to TIMESTAMPTZ; naive times are UTC).
-- Parameters: $until (microseconds since the epoch): rows loaded after it are not yet seen.
-- Rules:      SLO_MATH 5. age(t) = t - max(loaded_at <= t): the newest load before the
--             window is part of the answer, so there is no lower bound.
SELECT DISTINCT epoch_us(CAST(loaded_at AS TIMESTAMPTZ)) AS loaded_us
FROM source_rows
WHERE loaded_at IS NOT NULL
  AND CAST(loaded_at AS TIMESTAMPTZ) <= make_timestamptz($until)
ORDER BY loaded_us
