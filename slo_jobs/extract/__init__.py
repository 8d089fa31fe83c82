"""Extract stage: SLI history from Prometheus into the Parquet lake."""

from .extractor import extract_slo
from .prometheus import PrometheusClient, PrometheusConfig

__all__ = ["PrometheusClient", "PrometheusConfig", "extract_slo"]
