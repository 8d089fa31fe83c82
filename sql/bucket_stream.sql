-- bucket_stream.sql: one ordered pass over every bucket of a window's SLOs.
-- Grain:      one row per SLO and bucket, filtered down to (a) snapshot rows every $snap
--             buckets and (b) buckets where a burn-rate alert condition holds.
-- Inputs:     read_parquet($files): dense day partitions (good, total, clipped, has_data),
--             listed SLO by SLO and day by day, each SLO covering the same $n buckets from the
--             same origin (the first day at 00:00 UTC). Bucket position = row position.
-- Parameters: $files, $n (buckets per SLO), $b0/$b1 (the window's first / past-the-end
--             bucket), $snap (snapshot every $snap buckets), $l5m ... $l1d (window lengths in
--             buckets; 3 d is three times 1 d), $budget (B = 1 - target, one per SLO, in file order),
--             $thr_page1 / $thr_page2 / $thr_ticket1 / $thr_ticket2 (f * B per SLO).
-- Why this shape: the input is dense and already ordered, so prefix sums and lag() run as
--             streaming window functions (no sort, no partitioning); the sum over the last L
--             buckets is cum[i] - cum[i - L]. Conditions compare bad(L) > f*B * total(L), so no
--             division runs per bucket. Rows whose window reaches before the SLO's first
--             bucket (b < L) are never output: the caller reads a lookback of 3 days first.
--             has_data and clipped counts share one prefix sum (clipped in the high 32 bits).
WITH rows AS (
    SELECT row_number() OVER () - 1 AS rn, total - good AS bad, total,
           has_data::BIGINT + (clipped::BIGINT << 32) AS hc
    FROM read_parquet($files)
),
cum AS (
    SELECT rn, bad, total,
           sum(bad) OVER (ROWS UNBOUNDED PRECEDING)   AS cb,
           sum(total) OVER (ROWS UNBOUNDED PRECEDING) AS ct,
           sum(hc) OVER (ROWS UNBOUNDED PRECEDING)    AS chc
    FROM rows
),
win1 AS (
    SELECT *, rn // $n AS k, rn % $n AS b,
           cb - lag(cb, $l5m) OVER ()  AS b5m,  ct - lag(ct, $l5m) OVER ()  AS t5m,
           cb - lag(cb, $l30m) OVER () AS b30m, ct - lag(ct, $l30m) OVER () AS t30m,
           cb - lag(cb, $l1h) OVER ()  AS b1h,  ct - lag(ct, $l1h) OVER ()  AS t1h,
           cb - lag(cb, $l2h) OVER ()  AS b2h,  ct - lag(ct, $l2h) OVER ()  AS t2h,
           cb - lag(cb, $l6h) OVER ()  AS b6h,  ct - lag(ct, $l6h) OVER ()  AS t6h,
           lag(cb, $l1d) OVER ()       AS cb1,  lag(ct, $l1d) OVER ()       AS ct1
    FROM cum
),
-- DuckDB streams lag() only for offsets below 2,048 rows: the 3-day lag is three 1-day lags.
win2 AS (SELECT *, lag(cb1, $l1d) OVER () AS cb2, lag(ct1, $l1d) OVER () AS ct2 FROM win1),
win AS (
    SELECT *, cb - cb1 AS b1d, ct - ct1 AS t1d,
           cb - lag(cb2, $l1d) OVER () AS b3d, ct - lag(ct2, $l1d) OVER () AS t3d
    FROM win2
),
fire AS (
    SELECT *,
           -- SRE workbook multi-window multi-burn-rate: err(L) > f*B AND err(S) > f*B
           coalesce((b1h > $thr_page1[k + 1] * t1h AND b5m > $thr_page1[k + 1] * t5m)
                 OR (b6h > $thr_page2[k + 1] * t6h AND b30m > $thr_page2[k + 1] * t30m),
                    false) AND b >= $b0 AS page,
           coalesce((b1d > $thr_ticket1[k + 1] * t1d AND b2h > $thr_ticket1[k + 1] * t2h)
                 OR (b3d > $thr_ticket2[k + 1] * t3d AND b6h > $thr_ticket2[k + 1] * t6h),
                    false) AND b >= $b0 AS ticket
    FROM win
)
SELECT k, b, bad, total, ct - cb AS cgood, ct AS ctot, cb AS cbad,
       (chc & 4294967295)::BIGINT AS chas, (chc >> 32)::BIGINT AS cclip,
       b5m / nullif(t5m, 0) / $budget[k + 1]   AS burn_5m,
       b30m / nullif(t30m, 0) / $budget[k + 1] AS burn_30m,
       b1h / nullif(t1h, 0) / $budget[k + 1]   AS burn_1h,
       b2h / nullif(t2h, 0) / $budget[k + 1]   AS burn_2h,
       b6h / nullif(t6h, 0) / $budget[k + 1]   AS burn_6h,
       b1d / nullif(t1d, 0) / $budget[k + 1]   AS burn_1d,
       b3d / nullif(t3d, 0) / $budget[k + 1]   AS burn_3d,
       page, ticket, (b + 1) % $snap = 0 AS is_snap
FROM fire
WHERE b >= $b0 - 1 AND b < $b1 AND ((b + 1) % $snap = 0 OR page OR ticket)
