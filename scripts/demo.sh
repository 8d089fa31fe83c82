#!/usr/bin/env bash
# The demo: a local Prometheus with generated history, every month of it computed (the
# earlier ones with slo-jobs backfill, the last one through the monthly report DAG run by
# Airflow), then where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
CACHE=$ROOT/.cache/demo
PORT=${SLO_JOBS_DEMO_PORT:-19090}
MONTH=$($PY -m demo.prom last-month)
NEXT=$($PY -c "import sys; from slo_jobs.core.periods import month; print(month(sys.argv[1]).end.date())" "$MONTH")

echo "== demo history (cached after the first run)"
$PY -m demo.prom build "$CACHE" >/dev/null
rm -f "$CACHE/serve.log"
$PY -m demo.prom serve "$CACHE" "$PORT" > "$CACHE/serve.log" 2>&1 &
PROM_PID=$!
trap 'kill -TERM $PROM_PID 2>/dev/null || true; wait $PROM_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  grep -q "ready" "$CACHE/serve.log" 2>/dev/null && break
  kill -0 $PROM_PID 2>/dev/null || { cat "$CACHE/serve.log"; exit 1; }
  sleep 0.2
done
echo "== prometheus on http://127.0.0.1:$PORT"

# Delivery: the teams' emails go to an SMTP server on loopback that keeps them in a Maildir.
MAIL_PORT=${SLO_JOBS_DEMO_MAIL_PORT:-19025}
MAIL_DIR=$ROOT/reports/out/mail
mkdir -p "$MAIL_DIR"/{cur,new,tmp}  # a Maildir, made whole: aiosmtpd only fills one
$PY -m aiosmtpd -n -l "127.0.0.1:$MAIL_PORT" -c aiosmtpd.handlers.Mailbox "$MAIL_DIR" \
  > "$CACHE/mail.log" 2>&1 &
MAIL_PID=$!
trap 'kill -TERM $PROM_PID $MAIL_PID 2>/dev/null || true; wait $PROM_PID $MAIL_PID 2>/dev/null || true' EXIT
until $PY -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" \
    "$MAIL_PORT" 2>/dev/null; do
  kill -0 $MAIL_PID 2>/dev/null || { cat "$CACHE/mail.log"; exit 1; }
  sleep 0.2
done
export AIRFLOW_CONN_SMTP_DEFAULT='{"conn_type": "smtp", "host": "127.0.0.1", "port": '"$MAIL_PORT"', "extra": {"from_email": "slo-reports@example.com", "disable_ssl": true, "disable_tls": true}}'
echo "== mail server on 127.0.0.1:$MAIL_PORT (Maildir $MAIL_DIR)"

export PATH=$ROOT/.venv/bin:$PATH
export AIRFLOW_HOME=$ROOT/.cache/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
export AIRFLOW_CONN_PROMETHEUS_DEFAULT=http://127.0.0.1:$PORT
export SLO_JOBS_SLOS_DIR=$ROOT/slos SLO_JOBS_LAKE_DIR=$ROOT/lake SLO_JOBS_OUT_DIR=$ROOT/reports/out
mkdir -p "$AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -30 "$AIRFLOW_HOME/migrate.log"; exit 1; }
# The months before the last one first, so its report compares and charts real months.
FIRST=$($PY -c "from demo import generate; print(f'{generate.START:%Y-%m}')")
BEFORE=$($PY -c "import sys; from slo_jobs.core.periods import month, previous; print(previous(month(sys.argv[1])).label)" "$MONTH")
if [[ "$FIRST" < "$MONTH" ]]; then
  echo "== slo-jobs backfill --from $FIRST --to $BEFORE"
  slo-jobs backfill --from "$FIRST" --to "$BEFORE" --prometheus-url "http://127.0.0.1:$PORT" \
    --slos "$SLO_JOBS_SLOS_DIR" --lake "$SLO_JOBS_LAKE_DIR" --out "$SLO_JOBS_OUT_DIR" \
    > "$CACHE/backfill.log" 2>&1 || { tail -20 "$CACHE/backfill.log"; exit 1; }
fi
echo "== airflow dags test slo_monthly_report $NEXT  (data interval: $MONTH)"
if ! airflow dags test slo_monthly_report "$NEXT" > "$CACHE/dag-test.log" 2>&1; then
  tail -40 "$CACHE/dag-test.log"; echo "DAG run failed; full log: $CACHE/dag-test.log" >&2; exit 1
fi
echo
slo-jobs show --month "$MONTH" --lake "$SLO_JOBS_LAKE_DIR" --out "$SLO_JOBS_OUT_DIR"
echo "stakeholder email: $(ls "$MAIL_DIR/new" | wc -l) message(s) in $MAIL_DIR/new (one per team and month, sent once; each a plain RFC 5322 file, the PDF attached)"
