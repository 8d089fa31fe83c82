"""OpenSLO v1: import into the native model and export from it (``slo_jobs.spec``)."""

from __future__ import annotations

from .export import export
from .importer import import_documents
from .models import API_VERSION

__all__ = ["API_VERSION", "export", "import_documents"]
