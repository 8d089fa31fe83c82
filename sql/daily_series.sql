-- daily_series.sql: per-day SLI and the error-budget burn-down, for charts.
-- Grain:      one row per SLO and local day of the window (days in the SLO's time zone).
-- Inputs:     snap (slo_jobs/compute/stream.py); slos(k, slo, budget_fraction, method);
--             days(day, b_start, b_end, elapsed_end): local day boundaries as bucket indices
--             (snapshot rows: on the grid or marks) and the window fraction elapsed at each
--             day's end; occ (occurrence_measures.sql) for the window's traffic so far;
--             slc, slc_days(k, b_start, good, total): a time-slice SLO's slice counts over
--             the window and per local day (slo_jobs/compute/stream.py).
-- Parameters: $b0 (first bucket of the window), $elapsed (fraction elapsed at as-of).
-- Units follow the budgeting method, as in budget_status.sql: events for Occurrences,
-- slices for Timeslices (good = good slices) and RatioTimeslices (good = the sum of the
-- slice ratios). The burn-down is 1 - bad so far / allowed bad of the window (projected
-- from the traffic or slices so far while it is open), so its last point is the summary's
-- budget_remaining; the even-spend line falls linearly to 0.
WITH events AS (
    SELECT d.day, d.elapsed_end, s.k,
           max(s.cgood) FILTER (WHERE s.b = d.b_end - 1) - max(s.cgood) FILTER (WHERE s.b = d.b_start - 1) AS good,
           max(s.ctot)  FILTER (WHERE s.b = d.b_end - 1) - max(s.ctot)  FILTER (WHERE s.b = d.b_start - 1) AS total,
           max(s.ctot - s.cgood) FILTER (WHERE s.b = d.b_end - 1)
               - max(s.ctot - s.cgood) FILTER (WHERE s.b = $b0 - 1)                                        AS bad_so_far
    FROM days AS d
    JOIN snap AS s ON s.is_snap AND s.b IN (d.b_start - 1, d.b_end - 1, $b0 - 1)
    JOIN slos AS p ON p.k = s.k AND p.method = 'Occurrences'
    GROUP BY d.day, d.elapsed_end, s.k
),
sliced AS (
    SELECT d.day, d.elapsed_end, c.k, c.good, c.total,
           sum(c.total - c.good) OVER (PARTITION BY c.k ORDER BY d.day)                  AS bad_so_far
    FROM days AS d
    JOIN slc_days AS c USING (b_start)
),
per_day AS (
    SELECT e.*, o.total AS window_total FROM events AS e JOIN occ AS o USING (k)
    UNION ALL
    SELECT s.*, c.counted_slices::DOUBLE AS window_total FROM sliced AS s JOIN slc AS c USING (k)
)
SELECT p.slo, a.day, a.good, a.total, a.total - a.good AS bad,
       CASE WHEN a.total > 0 THEN a.good / a.total END AS sli,
       CASE WHEN a.window_total > 0
            THEN 1 - a.bad_so_far / (p.budget_fraction * a.window_total / $elapsed) END AS budget_remaining,
       1 - a.elapsed_end AS even_spend_remaining
FROM per_day AS a
JOIN slos AS p USING (k)
ORDER BY p.slo, a.day
