"""Prepare a throwaway Airflow home for the backfill test, in one process (each ``airflow``
command costs seconds of start-up): migrate the database, create the Prometheus pool, parse
the DAG folder into the database and unpause one DAG.

    AIRFLOW_HOME=... python tests/airflow_prep.py <dag_id> <pool slots>
"""

from __future__ import annotations

import argparse
import os
import sys


def main(dag_id: str, slots: int) -> None:
    from airflow.cli.commands.dag_command import dag_reserialize
    from airflow.models.dag import DagModel
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb
    from airflow.utils.session import create_session

    initdb()
    sys.path.insert(0, os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    from slo_common import PROMETHEUS_POOL

    Pool.create_or_update_pool(PROMETHEUS_POOL, slots, "Prometheus query_range",
                               include_deferred=False)

    dag_reserialize(argparse.Namespace(bundle_name=None))
    with create_session() as session:
        dag = session.get(DagModel, dag_id)
        if dag is None:
            raise SystemExit(f"{dag_id}: not found after parsing the DAG folder")
        dag.is_paused = False


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
