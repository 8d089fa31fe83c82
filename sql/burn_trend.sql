-- burn_trend.sql: burn rates over every alert window at the end of every hour, for charts.
-- Grain:      one row per SLO and hour of the window.
-- Inputs:     snap (slo_jobs/compute/stream.py); slos(k, slo).
-- Parameters: $origin_s (epoch seconds of bucket 0), $step_s, $hour (buckets per hour),
--             $b0, $basof (bucket range).
SELECT p.slo, to_timestamp($origin_s + (s.b + 1) * $step_s) AS hour_end,
       s.burn_5m, s.burn_30m, s.burn_1h, s.burn_2h, s.burn_6h, s.burn_1d, s.burn_3d
FROM snap AS s
JOIN slos AS p USING (k)
WHERE s.is_snap AND (s.b + 1) % $hour = 0 AND s.b >= $b0 AND s.b < $basof
ORDER BY p.slo, hour_end
