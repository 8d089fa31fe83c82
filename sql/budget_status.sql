-- budget_status.sql: SLI, error budget, status and release decisions per SLO and window.
-- Grain:      one row per SLO in `slos`.
-- Inputs:     slos(k, slo, service, description, spec_hash, target, budget_fraction, method,
--             slice_seconds, min_coverage, min_events, period_s); occ
--             (occurrence_measures.sql); slc (k,
--             good_slices, counted_slices, no_data_slices, all_slices, ratio_mean: the
--             time-slice counts judged in slo_jobs/compute/stream.py, only for time-slice
--             SLOs; for RatioTimeslices good_slices is the sum of the slice ratios and
--             counted_slices the slices with events, so good / total is the mean ratio).
-- Parameters: $expected (buckets in [window start, as-of)), $elapsed (fraction of the window
--             elapsed at as-of, in (0, 1]), $as_of (TIMESTAMPTZ).
-- Rules:      SLO_MATH 1 (methods), 2 (to-date and projected), 3-4 (status, projection,
--             decisions). Consumption is of the whole window's budget, projected from the
--             traffic (or slices) so far: at the window's end it is the plain definition.
--             Coverage (SLO_MATH 6: buckets with data / expected) below the SLO's
--             min_coverage makes the window 'insufficient data': no budget status, met
--             NULL, no exhaustion projection. A window still running at as-of is neither met
--             nor missed (met NULL): its outlook says how it stands to date (SLO_MATH 2).
--             The sparse-SLO rule (docs/slo-math.md, "Too few events to judge"): a window
--             whose events projected to its end (n) are so few that one bad event spends
--             the whole budget (n B <= 1, i.e. n < min_events for whole n) is 'too few
--             events': figures shown, met and outlook NULL.
WITH m AS (
    SELECT s.*, o.buckets, o.clipped_rows, o.burn_1d_now,
           CASE s.method WHEN 'Occurrences' THEN o.good ELSE c.good_slices END::DOUBLE      AS good,
           CASE s.method WHEN 'Occurrences' THEN o.total ELSE c.counted_slices END::DOUBLE  AS total,
           c.no_data_slices, c.ratio_mean,
           CASE s.method WHEN 'Occurrences' THEN 'events' ELSE 'slices' END                AS unit
    FROM slos AS s
    LEFT JOIN occ AS o USING (k)
    LEFT JOIN slc AS c USING (k)
),
sli AS (
    SELECT *, coalesce(total, 0) - coalesce(good, 0) AS bad,
           -- one formula for every method: RatioTimeslices' good and total make it the mean
           CASE WHEN total > 0 THEN good / total END AS sli
    FROM m
),
budget AS (
    SELECT *,
           budget_fraction * total                              AS allowed_bad_to_date,
           budget_fraction * total / $elapsed                   AS allowed_bad,
           CASE WHEN total > 0 THEN bad / (budget_fraction * total) END AS consumed_to_date,
           coalesce(buckets, 0) / $expected < min_coverage AS insufficient,
           -- one bad event of the n projected spends 1 / (n B) of the budget: the whole of
           -- it when n B <= 1 (min_events 0: spec.judgeFewEvents, judged anyway)
           min_events > 0 AND coalesce(total, 0) / $elapsed * budget_fraction <= 1 + 1e-9
               AS few
    FROM sli
),
status AS (
    SELECT *,
           consumed_to_date * $elapsed AS consumed,
           1 - consumed_to_date * $elapsed AS remaining
    FROM budget
)
SELECT slo, service, description, spec_hash, target, method, unit,
       coalesce(good, 0) AS good, coalesce(total, 0) AS total, bad, sli,
       allowed_bad, allowed_bad_to_date,
       consumed AS budget_consumed, remaining AS budget_remaining,
       allowed_bad - bad AS budget_remaining_events,
       consumed_to_date AS budget_consumed_to_date,
       -- budget as time for time-sliced SLOs: slices times the slice length
       CASE WHEN unit = 'slices' THEN allowed_bad * slice_seconds / 60 END               AS budget_minutes,
       CASE WHEN unit = 'slices' THEN (allowed_bad - bad) * slice_seconds / 60 END       AS budget_remaining_minutes,
       coalesce(buckets, 0) AS buckets, $expected AS expected_buckets,
       coalesce(buckets, 0) / $expected AS coverage,
       coalesce(clipped_rows, 0) AS clipped_rows, no_data_slices,
       $elapsed < 1 AS estimated,
       CASE
           WHEN sli IS NULL           THEN 'no data'
           WHEN insufficient          THEN 'insufficient data'
           WHEN few                   THEN 'too few events'
           WHEN remaining <= 0        THEN 'exhausted'
           WHEN consumed / $elapsed > 2   THEN 'critical'
           WHEN consumed / $elapsed > 1.5 THEN 'warning'
           WHEN consumed / $elapsed > 1   THEN 'attention'
           ELSE 'healthy'
       END AS status,
       -- met or missed only once the window has closed: to date it is an estimate
       CASE WHEN sli IS NOT NULL AND NOT insufficient AND NOT few AND $elapsed >= 1
            THEN sli >= target END AS met,
       -- a running window, to date: on track while the spend so far keeps within an even
       -- spend (C_to_date <= 1, i.e. SLI so far >= target), at risk above it
       CASE
           WHEN $elapsed >= 1 OR sli IS NULL OR insufficient OR few THEN NULL
           WHEN remaining <= 0          THEN 'exhausted'
           WHEN consumed_to_date <= 1   THEN 'on track'
           ELSE 'at risk'
       END AS outlook,
       min_coverage, min_events,
       burn_1d_now,
       -- exhaustion at the trailing 1-day burn: as_of + (R / burn) * P
       CASE
           WHEN sli IS NULL OR insufficient THEN NULL
           WHEN remaining <= 0 THEN 'exhausted'
           WHEN coalesce(burn_1d_now, 0) = 0 THEN 'never'
           ELSE 'projected'
       END AS exhaustion,
       CASE WHEN remaining > 0 AND burn_1d_now > 0 AND NOT insufficient
            THEN remaining / burn_1d_now * period_s / 86400 END                           AS exhaustion_days
FROM status
ORDER BY service, slo
