-- month_summary.sql: compliance and error budget per SLO for one period.
-- Grain:      one row per SLO in `slos`, for the period [$start, $end).
-- Inputs:     slos(slo, service, target, description, spec_hash): registered by the caller.
--             read_parquet($files): SLI buckets (ts, good, total, clipped, step_s) with the
--             hive column slo=<name>; files outside the period are filtered by ts.
-- Parameters: $files (list of Parquet paths), $start, $end (TIMESTAMPTZ),
--             $period_s (period length in seconds), $elapsed (fraction of the period
--             elapsed at evaluation, (0, 1]), $default_step_s (bucket width when an SLO
--             has no rows at all).
-- Rules:      ../shared SLO_MATH.md sections 1 (Occurrences) and 4 (status).
WITH buckets AS (
    SELECT slo, good, total, clipped, step_s
    FROM read_parquet($files, hive_partitioning = true)
    WHERE ts >= $start AND ts < $end
),
agg AS (
    SELECT slo,
           sum(good)                     AS good,
           sum(total)                    AS total,
           count(*)                      AS buckets,
           count(*) FILTER (WHERE clipped) AS clipped_rows,
           max(step_s)                   AS step_s
    FROM buckets
    GROUP BY slo
),
joined AS (
    SELECT s.slo, s.service, s.description, s.spec_hash, s.target,
           -- B = 1 - T, rounded so 1 - 0.999 is exactly 0.001 and not 0.0010000000000000009.
           round(1 - s.target, 12)       AS budget_fraction,
           coalesce(a.good, 0)::DOUBLE   AS good,
           coalesce(a.total, 0)::DOUBLE  AS total,
           coalesce(a.buckets, 0)        AS buckets,
           coalesce(a.clipped_rows, 0)   AS clipped_rows,
           $period_s / coalesce(a.step_s, $default_step_s) AS expected_buckets
    FROM slos AS s
    LEFT JOIN agg AS a USING (slo)
),
budget AS (
    SELECT *,
           total - good                                        AS bad,
           CASE WHEN total > 0 THEN good / total END           AS sli,
           budget_fraction * total                             AS allowed_bad,
           -- Ratio of sums (Occurrences): consumed = bad / (B * total); not clamped.
           CASE WHEN total > 0 THEN (total - good) / (budget_fraction * total) END AS consumed
    FROM joined
)
SELECT slo, service, description, spec_hash, target, good, total, bad, sli, allowed_bad,
       consumed                        AS budget_consumed,
       1 - consumed                    AS budget_remaining,
       buckets, expected_buckets,
       buckets / expected_buckets      AS coverage,
       clipped_rows,
       CASE
           WHEN total = 0                    THEN 'no data'
           WHEN 1 - consumed <= 0            THEN 'exhausted'
           WHEN consumed / $elapsed > 2      THEN 'critical'
           WHEN consumed / $elapsed > 1.5    THEN 'warning'
           WHEN consumed / $elapsed > 1      THEN 'attention'
           ELSE 'healthy'
       END                             AS status,
       CASE WHEN total > 0 THEN good / total >= target END AS met
FROM budget
ORDER BY service, slo
