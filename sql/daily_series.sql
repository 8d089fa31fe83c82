-- daily_series.sql: per-day SLI and the error-budget burn-down, for charts.
-- Grain:      one row per SLO and local day of the window (days in the SLO's time zone).
-- Inputs:     snap (bucket_stream.sql); slos(k, slo, budget_fraction, method);
--             days(day, b_start, b_end, elapsed_end): local day boundaries as bucket indices
--             (multiples of the snapshot interval) and the window fraction elapsed at each
--             day's end; occ (occurrence_measures.sql) for the window's traffic so far.
-- Parameters: $b0 (first bucket of the window), $elapsed (fraction elapsed at as-of).
-- The burn-down is 1 - bad so far / allowed bad events of the window (projected from the
-- traffic so far while the window is open); the even-spend line falls linearly to 0.
WITH at_bounds AS (
    SELECT d.day, d.elapsed_end, s.k,
           max(s.cgood) FILTER (WHERE s.b = d.b_end - 1) - max(s.cgood) FILTER (WHERE s.b = d.b_start - 1) AS good,
           max(s.ctot)  FILTER (WHERE s.b = d.b_end - 1) - max(s.ctot)  FILTER (WHERE s.b = d.b_start - 1) AS total,
           max(s.ctot - s.cgood) FILTER (WHERE s.b = d.b_end - 1)
               - max(s.ctot - s.cgood) FILTER (WHERE s.b = $b0 - 1)                                        AS bad_so_far
    FROM days AS d
    JOIN snap AS s ON s.is_snap AND s.b IN (d.b_start - 1, d.b_end - 1, $b0 - 1)
    GROUP BY d.day, d.elapsed_end, s.k
)
SELECT p.slo, a.day, a.good, a.total, a.total - a.good AS bad,
       CASE WHEN a.total > 0 THEN a.good / a.total END AS sli,
       CASE WHEN o.total > 0
            THEN 1 - a.bad_so_far / (p.budget_fraction * o.total / $elapsed) END AS budget_remaining,
       1 - a.elapsed_end AS even_spend_remaining
FROM at_bounds AS a
JOIN slos AS p USING (k)
JOIN occ AS o USING (k)
ORDER BY p.slo, a.day
