"""slo-jobs: auditable monthly SLO reports from Prometheus history.

The package is split by pipeline stage: ``spec`` (SLO definitions), ``extract``
(Prometheus to the Parquet lake), ``compute`` (DuckDB SQL), ``report`` (HTML,
PDF, JSON).  It never imports Airflow; ``dags/`` wires these functions.
"""

__version__ = "0.1.0"
