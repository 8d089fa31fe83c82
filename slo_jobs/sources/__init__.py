"""The extract stage's sources: Prometheus and VictoriaMetrics (``prometheus``: client,
counting, selectors, the lake writer), pipeline runs from the Airflow API or a table
(``pipelines``), and what both share: endpoint configuration (``endpoint``) and the HTTP
request core (``request``: TLS, client certificates, retries, a whole-request deadline).

May import: ``lake``, ``spec``, ``core``.
"""
