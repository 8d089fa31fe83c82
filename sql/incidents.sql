-- incidents.sql: the historical alert timeline, as incidents.
-- Grain:      one row per maximal run of consecutive buckets in which a multi-window
--             multi-burn-rate condition (page or ticket) holds, per SLO.
-- Inputs:     snap (bucket_stream.sql): firing buckets carry page/ticket flags, their own
--             bad events and burn rates; slos(k, slo, budget_fraction); occ (window traffic).
-- Parameters: $origin_s (epoch seconds of bucket 0), $step_s, $elapsed, $basof (past-the-end
--             bucket evaluated).
-- Share of budget: bad events inside the incident / allowed bad events of the window.
WITH firing AS (
    SELECT k, b, bad, page, ticket, burn_1h, burn_5m,
           b - row_number() OVER (PARTITION BY k ORDER BY b) AS island
    FROM snap
    WHERE (page OR ticket) AND b < $basof
),
runs AS (
    SELECT k, island, min(b) AS b_start, max(b) + 1 AS b_end, sum(bad) AS bad,
           max(burn_1h) AS peak_burn_1h, bool_or(page) AS paged
    FROM firing
    GROUP BY k, island
)
SELECT p.slo,
       to_timestamp($origin_s + r.b_start * $step_s) AS start,
       to_timestamp($origin_s + r.b_end * $step_s)   AS "end",
       (r.b_end - r.b_start) * $step_s / 60.0         AS duration_minutes,
       CASE WHEN r.paged THEN 'page' ELSE 'ticket' END AS severity,
       r.peak_burn_1h, r.bad,
       r.bad / (p.budget_fraction * o.total / $elapsed) AS budget_share
FROM runs AS r
JOIN slos AS p USING (k)
JOIN occ AS o USING (k)
ORDER BY p.slo, start
