"""Extract stage: SLI history from Prometheus into the Parquet lake."""

from ..endpoint import PrometheusConfig
from .client import PrometheusClient
from .extractor import extract_slo

__all__ = ["PrometheusClient", "PrometheusConfig", "extract_slo"]
