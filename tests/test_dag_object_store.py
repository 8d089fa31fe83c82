"""The monthly report DAG with its lake on an object store (moto's S3 server on loopback),
its credentials taken from an aws-type Airflow Connection and kept out of the task logs."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.s3server import ACCESS_KEY, SECRET_KEY, client

pytestmark = pytest.mark.integration


def test_monthly_dag_on_object_store_with_a_connection(
        prometheus: str, airflow_db: Path, s3: str, bucket: str, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    slos = tmp_path / "slos"
    slos.mkdir()
    shutil.copy(ROOT / "slos" / "checkout.yaml", slos)
    conn = {"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
            "extra": {"endpoint_url": s3, "region_name": "us-east-1"}}
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            mp.delenv(name)  # only the Connection knows where the store is and who we are
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
        mp.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
        mp.setenv("SLO_JOBS_SLOS_DIR", str(slos))
        mp.setenv("SLO_JOBS_LAKE_URL", f"s3://{bucket}/lake")
        mp.setenv("SLO_JOBS_OUT_DIR", str(tmp_path / "out"))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_monthly_report.py")).get_dag(
            "slo_monthly_report")
        run = dag.test(logical_date=datetime(2026, 10, 1, tzinfo=UTC))
    logs = capfd.readouterr()
    assert run.state == "success"
    s3c: Any = client(s3)
    listed = [o["Key"] for page in s3c.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="lake/") for o in page.get("Contents", [])]
    days = {k.split("/")[3] for k in listed if k.startswith("lake/sli/")}
    # September and the 3 days its burn rates look back on, for both checkout SLOs.
    assert len(days) == 33 and len([k for k in listed if k.startswith("lake/sli/")]) == 66
    assert "lake/monthly/month=2026-09/summary.parquet" in listed
    summary = json.loads((tmp_path / "out" / "2026-09" / "summary.json").read_text())
    assert {r["slo"] for r in summary} == {"checkout-availability", "checkout-latency"}
    assert all(r["coverage"] == 1.0 for r in summary)
    # The task log was captured (compute returns the summary's key), and holds no credential.
    assert f"s3://{bucket}/lake/monthly/month=2026-09/summary.parquet" in logs.out + logs.err
    for text in (logs.out, logs.err):
        assert SECRET_KEY not in text and ACCESS_KEY not in text
