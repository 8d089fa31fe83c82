-- pipeline_completeness.sql: records processed and expected, per row of the source.
-- Grain:      one row per source row in the window.
-- Inputs:     source_rows(event_at, processed, expected): the spec's columns renamed.
-- Parameters: $start, $end (microseconds since the epoch): rows with start < at <= end, the
--             same half-open side as Prometheus' increase() at a bucket's end.
-- Rules:      SLO_MATH 5. good = processed, total = expected; a NULL count is zero.
SELECT epoch_us(CAST(event_at AS TIMESTAMPTZ))         AS at_us,
       coalesce(CAST(processed AS DOUBLE), 0.0)  AS processed,
       coalesce(CAST(expected AS DOUBLE), 0.0)   AS expected
FROM source_rows
WHERE CAST(event_at AS TIMESTAMPTZ) > make_timestamptz($start)
  AND CAST(event_at AS TIMESTAMPTZ) <= make_timestamptz($end)
ORDER BY at_us
