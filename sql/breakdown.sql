-- breakdown.sql: which label values spent an SLO's error budget over its month to date.
-- Grain:      one row per value combination of the SLO's spec.breakdown labels.
-- Inputs:     rows(ts, labels, values, bad, total): the SLO's breakdown partitions
--             (lake/breakdown/...), one row per minute and value combination with events;
--             maintenance(start, "end", count_as): the SLO's planned windows widened to
--             whole minutes, as the compute stage applies them ("excluded": left out,
--             "good": its bad events count as good).
-- Parameters: $start, $as_of (the month's [start, as-of), as in summary.parquet), $labels
--             (the breakdown labels in force; rows of an earlier definition are left out),
--             $month_bad and $allowed_bad (the summary's bad events and allowed bad events).
-- bad_share is the share of the month's bad events; budget_share the share of the whole
-- budget, so the shares of all groups add up to budget_consumed when every bad event of
-- the month is attributed to a group.
WITH counted AS (
    SELECT r."values",
           CASE WHEN EXISTS (SELECT 1 FROM maintenance AS m
                             WHERE m.count_as = 'good' AND r.ts >= m.start AND r.ts < m."end")
                THEN 0.0 ELSE r.bad END AS bad,
           r.total
    FROM rows AS r
    WHERE r.ts >= $start AND r.ts < $as_of AND r.labels = $labels
      AND NOT EXISTS (SELECT 1 FROM maintenance AS m
                      WHERE m.count_as = 'excluded' AND r.ts >= m.start AND r.ts < m."end")
),
grouped AS (
    SELECT "values", sum(bad) AS bad, sum(total) AS total
    FROM counted
    GROUP BY "values"
)
SELECT $labels AS labels, "values",
       array_to_string(list_transform(list_zip($labels, "values"),
                                       lambda p: p[1] || '="' || p[2] || '"'), ', ') AS "group",
       bad, total,
       CASE WHEN total > 0 THEN 1 - bad / total END AS sli,
       CASE WHEN $month_bad > 0 THEN bad / $month_bad END AS bad_share,
       CASE WHEN $allowed_bad > 0 THEN bad / $allowed_bad END AS budget_share,
       row_number() OVER (ORDER BY bad DESC, total DESC, "values") AS rank
FROM grouped
ORDER BY rank
