"""``python -m slo_jobs.cli``: the ``slo-jobs`` command."""

from . import main

main()
