-- error_categories.sql: which kinds of error made up an SLO's bad events, over its month to
-- date and over each of its incidents.
-- Grain:      one row per span (the month, then each incident) and category of the SLO's
--             spec.errorCategories, in spec order, then 'uncategorised'.
-- Inputs:     rows(ts, categories, category, events, bad): the SLO's category partitions
--             (lake/categories/...), one row per minute and category with events ('' for
--             the bad events no category counts), each with the minute's bad events;
--             maintenance(start, "end", count_as): the SLO's planned windows widened to whole
--             minutes, as the compute stage applies them ("excluded": left out, "good": its
--             bad events count as good); spans(k, span, start, "end", severity): the month
--             ([start, as-of) of the summary row, k = 0) and each incident ([start, end)).
-- Parameters: $categories (the category names in force; rows of an earlier definition are
--             left out).
-- share: the category's events / the span's bad events. Categories are selectors and may
-- overlap, so the shares of the named categories can add up to more than 1 - uncategorised;
-- uncategorised counts each bad event no category counts once.
WITH counted AS (
    SELECT r.ts, CASE WHEN r.category = '' THEN 'uncategorised' ELSE r.category END AS category,
           CASE WHEN good THEN 0.0 ELSE r.events END AS events,
           CASE WHEN good THEN 0.0 ELSE r.bad END AS bad
    FROM (SELECT r.*, EXISTS (SELECT 1 FROM maintenance AS m
                              WHERE m.count_as = 'good' AND r.ts >= m.start AND r.ts < m."end")
                      AS good
          FROM rows AS r) AS r
    WHERE r.categories = $categories
      AND NOT EXISTS (SELECT 1 FROM maintenance AS m
                      WHERE m.count_as = 'excluded' AND r.ts >= m.start AND r.ts < m."end")
),
minutes AS (
    SELECT ts, max(bad) AS bad FROM counted GROUP BY ts
),
names AS (
    SELECT unnest(list_append($categories, 'uncategorised')) AS category,
           unnest(range(len($categories) + 1)) AS position
),
span_bad AS (
    SELECT s.k, coalesce(sum(m.bad), 0.0) AS bad
    FROM spans AS s
    LEFT JOIN minutes AS m ON m.ts >= s.start AND m.ts < s."end"
    GROUP BY s.k
),
span_events AS (
    SELECT s.k, c.category, sum(c.events) AS events
    FROM spans AS s
    JOIN counted AS c ON c.ts >= s.start AND c.ts < s."end"
    GROUP BY s.k, c.category
)
SELECT s.span, s.start, s."end", s.severity, n.category,
       coalesce(e.events, 0.0) AS events, b.bad,
       CASE WHEN b.bad > 0 THEN coalesce(e.events, 0.0) / b.bad END AS share
FROM spans AS s
CROSS JOIN names AS n
JOIN span_bad AS b ON b.k = s.k
LEFT JOIN span_events AS e ON e.k = s.k AND e.category = n.category
ORDER BY s.k, n.position
