-- incidents.sql: the historical alert timeline, as incidents.
-- Grain:      one row per SLO, severity and burn: a maximal run of consecutive buckets in
--             which a multi-window multi-burn-rate condition of that severity holds, with the
--             runs that follow it within the short window merged in (below): a page incident
--             lasts while a page condition holds, and ticket conditions make their own ticket
--             incidents (they may overlap a page, as the two Prometheus alerts would).
-- Inputs:     snap (slo_jobs/compute/stream.py): firing buckets carry page/ticket flags, their own
--             bad events, bad slices (slice_bad) and burn rates; slos(k, slo,
--             budget_fraction, method, page_gap_b, ticket_gap_b); occ (window traffic); slc
--             (window slices).
-- Parameters: $origin_s (epoch seconds of bucket 0), $step_s, $elapsed, $basof (past-the-end
--             bucket evaluated).
-- Share of budget, in the budget's own unit (as budget_status.sql): bad events inside the
-- incident / allowed bad events of the window, or for a time-slice SLO bad slices inside it
-- (a slice's bad value spread over its buckets) / allowed bad slices.
WITH firing AS (
    SELECT k, b, bad, slice_bad, burn_1h, 'page' AS severity FROM snap WHERE page AND b < $basof
    UNION ALL
    SELECT k, b, bad, slice_bad, burn_1h, 'ticket' AS severity FROM snap
    WHERE ticket AND b < $basof
),
islands AS (
    SELECT *, b - row_number() OVER (PARTITION BY k, severity ORDER BY b) AS island
    FROM firing
),
islands_run AS (
    SELECT k, severity, island, min(b) AS b_start, max(b) + 1 AS b_end, sum(bad) AS bad,
           sum(slice_bad) AS slice_bad, max(burn_1h) AS peak_burn_1h
    FROM islands
    GROUP BY k, severity, island
),
-- One burn, not two: a run starting less than the severity's longest short window
-- (slos.page_gap_b, ticket_gap_b) after the previous run ended continues it: that short
-- window still holds the previous run's bad minutes, so the re-firing is the tail of the
-- same outage (docs/slo-math.md, "Burn rate and alerts"). Its duration spans the gap; its bad events are those of the
-- buckets in which a condition held.
starts AS (
    SELECT i.*,
           CASE WHEN i.b_start - lag(i.b_end) OVER (PARTITION BY i.k, i.severity
                                                    ORDER BY i.b_start)
                     < CASE i.severity WHEN 'page' THEN s.page_gap_b ELSE s.ticket_gap_b END
                THEN 0 ELSE 1 END AS new_burn
    FROM islands_run AS i
    JOIN slos AS s USING (k)
),
burns AS (
    SELECT *, sum(new_burn) OVER (PARTITION BY k, severity ORDER BY b_start) AS burn
    FROM starts
),
runs AS (
    SELECT k, severity, min(b_start) AS b_start, max(b_end) AS b_end, sum(bad) AS bad,
           sum(slice_bad) AS slice_bad, max(peak_burn_1h) AS peak_burn_1h
    FROM burns
    GROUP BY k, severity, burn
)
SELECT p.slo,
       to_timestamp($origin_s + r.b_start * $step_s) AS start,
       to_timestamp($origin_s + r.b_end * $step_s)   AS "end",
       (r.b_end - r.b_start) * $step_s / 60.0         AS duration_minutes,
       r.severity,
       r.peak_burn_1h, r.bad,
       CASE WHEN p.method = 'Occurrences'
            THEN r.bad / (p.budget_fraction * o.total / $elapsed)
            ELSE r.slice_bad / (p.budget_fraction * c.counted_slices / $elapsed)
       END AS budget_share
FROM runs AS r
JOIN slos AS p USING (k)
JOIN occ AS o USING (k)
LEFT JOIN slc AS c USING (k)
ORDER BY p.slo, start, CASE r.severity WHEN 'page' THEN 0 ELSE 1 END
