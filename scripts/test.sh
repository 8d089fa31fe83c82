#!/usr/bin/env bash
# Lint, type-check and run the whole suite. The tests start their own Prometheus (on a free
# loopback port, over the generated history) and a throwaway Airflow home.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
echo "== ruff"
ruff check slo_jobs dags tests bench demo scripts
echo "== mypy slo_jobs"
mypy slo_jobs
echo "== test history"
python -m demo.prom build .cache/demo
echo "== pytest"
set +e
# Test files run side by side on SLO_JOBS_TEST_WORKERS processes (default 3): most of the
# suite waits on real servers (Prometheus, Airflow, PostgreSQL), so three workers on two cores
# overlap that waiting. A file stays on one worker, so its module fixtures are built once.
# Files are handed out in collection order (tests/conftest.py puts the minutes-long ones
# first), not by their number of tests, which would leave those for the end.
python -m pytest -n "${SLO_JOBS_TEST_WORKERS:-3}" --dist loadfile --no-loadscope-reorder "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit $rc
