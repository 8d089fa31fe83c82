"""Data-pipeline SLIs: run completion, data freshness and completeness.

Run records come from the Airflow REST API (or an export of them), load times and row
counts from a table DuckDB reads (``readers``).  Each is judged (``judge``) into the same
one-minute lake buckets as a Prometheus SLI (``record``), so budgets, burn rates and reports
treat pipelines like services; ``monthly`` adds their month's details to the report.
"""
