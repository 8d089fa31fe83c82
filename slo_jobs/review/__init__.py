"""Reviews from the record: the weekly SLO review (the review template filled from the
lake) and the monthly one-page summary for stakeholders.

Outputs: ``<out>/weekly/<YYYY-Www>/review.md`` and ``review.html``;
``<out>/stakeholders/<YYYY-MM>/summary-page.md`` and ``summary-page.html``.

May import: ``report``, ``compute``, ``decisions``, ``lake``, ``spec``, ``core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from .. import lake
from ..core.periods import Period
from ..decisions import policy
from ..lake import LakeDir, atomicio
from ..spec import Slo
from . import render, summary_page, weekly
from .weekly import Review

__all__ = ["Review", "write_summary_page", "write_weekly"]


def write_weekly(lake_dir: LakeDir, slos: Sequence[Slo], week: str, out_dir: Path,
                 as_of: datetime, rendered_at: datetime,
                 slo_files: Sequence[Path] = ()) -> tuple[Path, Path]:
    """Build the review of ``week`` from the lake and publish its Markdown and HTML; its
    release decisions follow the release policy beside ``slo_files``, as the report's do."""
    review = weekly.build(lake_dir, slos, week, as_of, policy.load_for(slo_files))
    texts = render.render_pair("review", r=review, rendered_at=render.stamp(rendered_at))
    return render.write_pair(atomicio.confined(out_dir) / "weekly" / week, "review", texts)


def write_summary_page(lake_dir: LakeDir, period: Period, out_dir: Path,
                       rendered_at: datetime) -> tuple[Path, Path]:
    """The one-page stakeholder summary of a computed month, as Markdown and HTML."""
    with lake.reading_sets():  # every table of the month from one version of it
        page = summary_page.build(lake_dir, period)
    texts = render.render_pair("summary-page", p=page, rendered_at=render.stamp(rendered_at))
    return render.write_pair(atomicio.confined(out_dir) / "stakeholders" / period.label,
                             "summary-page", texts)
