-- slice_measures.sql: time-slice counts for Timeslices and RatioTimeslices SLOs.
-- Grain:      one row per SLO index k present in `buckets`.
-- Inputs:     buckets(k, b, good, total, has_data): one row per bucket of the time-slice SLOs
--             (k: the SLO's index among all SLOs of the window, b: bucket index from the
--             window's origin), as stream.py reads them from the dense partitions.
-- Parameters: $b0, $basof (bucket range evaluated), and per SLO index k (lists over all
--             SLOs of the window, entry k + 1): $slice_buckets, $slice_target, $no_data.
-- Rules:      SLO_MATH 1. A slice is good iff good/total >= timeSliceTarget; a slice with no
--             data (no bucket with data, or no events) follows the SLO's policy: good, bad,
--             or skip (left out of N). RatioTimeslices: mean of good/total over slices with
--             total > 0.
WITH slices AS (
    SELECT k, (b - $b0) // $slice_buckets[k + 1] AS slice,
           sum(good) AS good, sum(total) AS total, bool_or(has_data) AS has_data
    FROM buckets
    WHERE b >= $b0 AND b < $basof
    GROUP BY ALL
),
judged AS (
    SELECT k, good, total,
           CASE
               WHEN NOT has_data OR total = 0 THEN $no_data[k + 1]
               WHEN good / total >= $slice_target[k + 1] THEN 'good'
               ELSE 'bad'
           END AS verdict
    FROM slices
)
SELECT k,
       count(*) FILTER (WHERE verdict = 'good')                      AS good_slices,
       count(*) FILTER (WHERE verdict <> 'skip')                     AS counted_slices,
       count(*) FILTER (WHERE total = 0)                             AS no_data_slices,
       count(*)                                                      AS all_slices,
       avg(good / total) FILTER (WHERE total > 0)                    AS ratio_mean
FROM judged
GROUP BY k
