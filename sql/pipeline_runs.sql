-- pipeline_runs.sql: exported Airflow run records of one DAG.
-- Grain:      one row per DAG run whose data interval ends in the window.
-- Inputs:     source_rows(dag_id, run_id, data_interval_start, data_interval_end,
--             start_date, end_date, state): columns as Airflow's REST API names them.
-- Parameters: $dag, and $after, $until (microseconds since the epoch) bounding the interval
--             end: after < data_interval_end <= until.
-- Rules:      SLO_MATH 5; judged in slo_jobs/sources/pipelines/judge.py.
SELECT CAST(run_id AS VARCHAR)                                     AS run_id,
       epoch_us(CAST(data_interval_start AS TIMESTAMPTZ))          AS interval_start,
       epoch_us(CAST(data_interval_end AS TIMESTAMPTZ))            AS interval_end,
       epoch_us(CAST(start_date AS TIMESTAMPTZ))                   AS start_us,
       epoch_us(CAST(end_date AS TIMESTAMPTZ))                     AS end_us,
       CAST(state AS VARCHAR)                                      AS state
FROM source_rows
WHERE dag_id = $dag
  AND CAST(data_interval_end AS TIMESTAMPTZ) > make_timestamptz($after)
  AND CAST(data_interval_end AS TIMESTAMPTZ) <= make_timestamptz($until)
ORDER BY interval_end, run_id
