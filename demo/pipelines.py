"""Deterministic run and load history of the project's own DAGs, for the demo.

The demo watches itself: ``slo_extract`` (daily) and ``slo_monthly_report`` (monthly) are
declared as pipelines in ``slos/pipelines.yaml``.  A demo Airflow has no months of runs, so
this writes the run records as Airflow's REST API reports them (``airflow_runs.csv``) and
the extraction's load log (``extract_loads.csv``) for July to September 2026, following the
DAGs' schedules (``dags/``): a daily run starts at its interval's end and first waits the
15-minute ingest grace for late scrapes (``EXTRACT_WAIT``); a monthly run waits 12 h 10 min
past the month, until every zone's month has ended (``REPORT_WAIT``), then takes about 20
min. With:

* a late run: the extraction of 2026-09-13 failed, was retried, and finished at 09:41 on the
  14th (the lake's newest data was stale for hours);
* a slightly late run on 2026-08-03 (finished 01:20, deadline 01:00);
* an incomplete extraction on 2026-08-21 (Prometheus answered 120 buckets fewer);
* the August report failed and was retried, finishing 19 h 30 min after the month
  (deadline 18 h).

``python -m demo.pipelines slos/pipeline-data`` rewrites the committed files.
"""

from __future__ import annotations

import argparse
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from slo_jobs.core.periods import INGEST_GRACE
from slo_jobs.lake import atomicio

START = datetime(2026, 6, 27, tzinfo=UTC)  # a few days before July: the burn-rate lookback
END = datetime(2026, 10, 1, tzinfo=UTC)
SEED = 20260927
SLO_COUNT = 6  # partitions the demo's extraction writes per day
BUCKETS = 1440

# interval start -> (end of the successful attempt after the interval end, failed first?)
LATE_EXTRACT = {datetime(2026, 9, 13, tzinfo=UTC): (timedelta(hours=9, minutes=41), True),
                datetime(2026, 8, 2, tzinfo=UTC): (timedelta(hours=1, minutes=20), False)}
SHORT_EXTRACT = {datetime(2026, 8, 20, tzinfo=UTC): 120}
# The sensors at the head of each DAG: dags/slo_extract.py, dags/slo_monthly_report.py.
EXTRACT_WAIT = INGEST_GRACE
REPORT_WAIT = timedelta(hours=12, minutes=10)
# interval start -> time from the end of the wait to the end of the run, failed first?
MONTHLY = [(datetime(2026, 6, 1, tzinfo=UTC), timedelta(minutes=21), False),
           (datetime(2026, 7, 1, tzinfo=UTC), timedelta(minutes=19), False),
           (datetime(2026, 8, 1, tzinfo=UTC), timedelta(hours=7, minutes=20), True)]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _month_after(t: datetime) -> datetime:
    return (t.replace(day=28) + timedelta(days=4)).replace(day=1)


def rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(run records, load log), in time order."""
    rng = np.random.default_rng(SEED)
    runs: list[dict[str, str]] = []
    loads: list[dict[str, str]] = []
    day = START
    while day < END - timedelta(days=1):
        end = day + timedelta(days=1)
        started = end + timedelta(seconds=int(rng.integers(5, 40)))
        took = timedelta(seconds=int(rng.integers(120, 540)))
        finished = started + EXTRACT_WAIT + took
        if day in LATE_EXTRACT:
            finished = end + LATE_EXTRACT[day][0]
        runs.append({"dag_id": "slo_extract", "run_id": f"scheduled__{_iso(day)}",
                     "data_interval_start": _iso(day), "data_interval_end": _iso(end),
                     "start_date": _iso(started), "end_date": _iso(finished),
                     "state": "success"})
        expected = SLO_COUNT * BUCKETS
        loads.append({"day": day.date().isoformat(), "loaded_at": _iso(finished),
                      "rows_written": str(expected - SHORT_EXTRACT.get(day, 0)),
                      "rows_expected": str(expected)})
        day = end
    for month, after, _retried in MONTHLY:
        end = _month_after(month)
        runs.append({"dag_id": "slo_monthly_report", "run_id": f"scheduled__{_iso(month)}",
                     "data_interval_start": _iso(month), "data_interval_end": _iso(end),
                     "start_date": _iso(end + timedelta(seconds=30)),
                     "end_date": _iso(end + REPORT_WAIT + after), "state": "success"})
    runs.sort(key=lambda r: (r["data_interval_end"], r["dag_id"]))
    return runs, loads


def write(out: Path) -> None:
    runs, loads = rows()
    out.mkdir(parents=True, exist_ok=True)
    for name, table in (("airflow_runs.csv", runs), ("extract_loads.csv", loads)):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(table)
        atomicio.write_text(out / name, buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    write(parser.parse_args().out)


if __name__ == "__main__":
    main()
