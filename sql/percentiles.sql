-- percentiles.sql: a latency SLO's histogram per local day of its month to date, the input
-- of the p50, p95 and p99 the report shows (interpolated in slo_jobs/core/quantile.py).
-- Grain:      one row per local day and kept bucket bound.
-- Inputs:     rows(ts, le, count): the SLO's buckets partitions (lake/buckets/...), one row
--             per minute with observations and kept bound, cumulative counts;
--             days(day, start, "end"): the local days of the window as UTC instants;
--             maintenance(start, "end", count_as): the SLO's planned windows widened to
--             whole minutes; the "excluded" ones are left out, as from the SLI (a window
--             counted good still had its requests, and their latencies).
-- Parameters: $start, $as_of (the month's [start, as-of), as in summary.parquet).
SELECT d.day, r.le, sum(r."count") AS "count", count(*) AS minutes
FROM rows AS r
JOIN days AS d ON r.ts >= d.start AND r.ts < d."end"
WHERE r.ts >= $start AND r.ts < $as_of
  AND NOT EXISTS (SELECT 1 FROM maintenance AS m
                  WHERE m.count_as = 'excluded' AND r.ts >= m.start AND r.ts < m."end")
GROUP BY d.day, r.le
ORDER BY d.day, r.le
