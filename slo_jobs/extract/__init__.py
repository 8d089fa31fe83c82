"""Extract stage: SLI history from Prometheus into the Parquet lake."""

from ..endpoint import PrometheusConfig
from .extractor import extract_slo
from .prometheus import PrometheusClient

__all__ = ["PrometheusClient", "PrometheusConfig", "extract_slo"]
