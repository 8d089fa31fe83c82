#!/usr/bin/env bash
# Lint, type-check and run the whole suite. The tests start their own Prometheus (on a free
# loopback port, over the generated history) and a throwaway Airflow home.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
echo "== ruff"
ruff check slo_jobs dags tests bench
echo "== mypy slo_jobs"
mypy slo_jobs
echo "== test history"
python -m slo_jobs.demo.prom build .cache/demo
echo "== pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit $rc
