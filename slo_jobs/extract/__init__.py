"""Extract stage: SLI history from Prometheus into the Parquet lake."""

from .extractor import extract_period, extract_slo
from .prometheus import PrometheusClient, PrometheusConfig

__all__ = ["PrometheusClient", "PrometheusConfig", "extract_period", "extract_slo"]
