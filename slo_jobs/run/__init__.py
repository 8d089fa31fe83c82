"""Running months: the month runner (``runner``), backfills over ranges (``backfill``), the
Airflow task bodies (``tasks``), what-if judging (``whatif``) and the facade that reads a
day from the SLO's source (``sources``).

May import: every stage package (``deliver``, ``review``, ``rules``, ``report``, ``compute``,
``sources``, ``decisions``, ``lake``, ``spec``, ``core``); only ``cli`` and the DAGs import it.
"""
