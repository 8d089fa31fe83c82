"""SLO definitions as code: the native format's schema, the validated model, PromQL.

- ``schema``: what a valid ``apiVersion: slo-jobs/v1`` document is (strict pydantic models).
- ``model``: ``Slo``, the validated SLO the pipeline reads, with one type per indicator kind.
- ``promql``: PromQL checks and the queries built from a spec.
- ``io``: reading YAML safely, durations, and one ``file:line: field: found; expected`` line
  per problem.
- ``tables``: the files and databases a data-pipeline SLI reads.
- ``load``: one native document to an ``Slo``.
- ``templates``: starter SLO files (``slo-jobs init``).
- ``governance``: target phases and planned maintenance windows as declared.
- ``catalog``: every definition under the given files and folders, validated together.
- ``openslo``: OpenSLO v1 import and export.

May import: ``core``.
"""

from __future__ import annotations

from .indicators import KINDS, Query
from .model import (
    EXPR_COUNT_ERROR,
    EXPR_SLI_ERROR,
    BurnRateAlert,
    CompletenessSli,
    CompletionSli,
    FreshnessSli,
    LatencySli,
    RatioSli,
    Sli,
    Slo,
    Target,
    ThresholdSli,
    to_slo,
)
from .promql import WINDOW_PLACEHOLDERS, has_placeholder
from .schema import API_VERSION, DEFAULT_MIN_COVERAGE, KIND, TIERS, Document

__all__ = [
    "API_VERSION", "DEFAULT_MIN_COVERAGE", "EXPR_COUNT_ERROR", "EXPR_SLI_ERROR", "KIND",
    "KINDS", "TIERS",
    "WINDOW_PLACEHOLDERS",
    "BurnRateAlert", "CompletenessSli", "CompletionSli", "Document", "FreshnessSli",
    "LatencySli", "Query", "RatioSli", "Sli", "Slo", "Target", "ThresholdSli",
    "has_placeholder", "to_slo",
]
