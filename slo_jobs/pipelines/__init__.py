"""Data-pipeline SLIs: run completion, data freshness and completeness.

Run records come from the Airflow REST API (or an export of them), load times and row
counts from a table DuckDB reads.  Each is judged into the same one-minute lake buckets
as a Prometheus SLI, so budgets, burn rates and reports treat pipelines like services.
"""

from .record import record_days, record_interval

__all__ = ["record_days", "record_interval"]
