-- occurrence_measures.sql: event counts of each SLO over [window start, as-of).
-- Grain:      one row per SLO index k.
-- Inputs:     snap (from slo_jobs/compute/stream.py): cumulative sums at snapshot buckets.
-- Parameters: $b0 (first bucket of the window), $basof (past-the-end bucket of the part
--             evaluated, <= the window's end); both snapshot rows (stream.Grid: on the snapshot
--             grid or a boundary mark).
-- A sum over [b0, basof) is cum[basof - 1] - cum[b0 - 1] (prefix sums, SLO_MATH 1).
SELECT k,
       max(cgood) FILTER (WHERE b = $basof - 1) - max(cgood) FILTER (WHERE b = $b0 - 1) AS good,
       max(ctot)  FILTER (WHERE b = $basof - 1) - max(ctot)  FILTER (WHERE b = $b0 - 1) AS total,
       max(chas)  FILTER (WHERE b = $basof - 1) - max(chas)  FILTER (WHERE b = $b0 - 1) AS buckets,
       (max(cclip) FILTER (WHERE b = $basof - 1) - max(cclip) FILTER (WHERE b = $b0 - 1))::BIGINT AS clipped_rows,
       max(burn_1d) FILTER (WHERE b = $basof - 1)                                     AS burn_1d_now
FROM snap
WHERE is_snap AND b IN ($b0 - 1, $basof - 1)
GROUP BY k
