"""Prepare a throwaway Airflow home for the tests that start a scheduler, in one process
(each ``airflow`` command costs seconds of start-up): migrate the database, create the
Prometheus pool, parse the DAG folder into the database and unpause the DAGs named.

    AIRFLOW_HOME=... python tests/airflow_prep.py <pool slots> <dag_id> [<dag_id> ...]
"""

from __future__ import annotations

import argparse
import os
import sys


def main(slots: int, dag_ids: list[str]) -> None:
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
        for dag_id in dag_ids:
            dag = session.get(DagModel, dag_id)
            if dag is None:
                raise SystemExit(f"{dag_id}: not found after parsing the DAG folder")
            dag.is_paused = False


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
