"""SLO governance from the record: dated target phases, planned maintenance windows and
what-if targets, all computed from the lake (``docs/slo-math.md``)."""
