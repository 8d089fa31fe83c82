# slo-jobs: `make demo` and `make test` install what they need first.
SHELL := /bin/bash
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: install demo test bench bench-scale bench-scale-extract lint proto clean

install: .venv/.installed

.venv/.installed: requirements.lock pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	touch $@

demo: install
	bash scripts/demo.sh

test: install
	bash scripts/test.sh

bench: install
	.venv/bin/python bench/extract.py
	.venv/bin/python bench/compute.py
	.venv/bin/python bench/report.py
	.venv/bin/python bench/cli.py
	.venv/bin/python bench/buckets.py

# Not part of bench: 330,000 generated partitions (3 GB) and about 15 minutes on 2 cores.
bench-scale: install
	.venv/bin/python bench/scale.py

# Not part of bench: a whole Airflow on the CeleryExecutor per measurement, a 113 M-sample
# Prometheus history (8 GB of text while promtool builds it once, 9 minutes) and about
# 30 minutes on 2 cores.
bench-scale-extract: install
	.venv/bin/python bench/scale_extract.py

# Prometheus' remote-read messages from slo_jobs/sources/prometheus/prompb/proto (grpcio-tools).
proto: install
	.venv/bin/python scripts/proto.py

lint: install
	.venv/bin/ruff check slo_jobs dags tests bench demo scripts
	.venv/bin/mypy slo_jobs

clean:
	rm -rf .cache lake reports/out
