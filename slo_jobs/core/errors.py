"""One base class for every error a user can cause or fix."""

from __future__ import annotations


class SloJobsError(Exception):
    """A problem the user can act on; the CLI prints it as one line, no traceback."""


class SpecError(SloJobsError):
    """An SLO definition is invalid: names the file, the field, found and expected."""


class ExtractError(SloJobsError):
    """Prometheus could not be read (after retries) or answered something unusable."""


class LakeError(SloJobsError):
    """The Parquet lake is missing, unreadable or unwritable."""
