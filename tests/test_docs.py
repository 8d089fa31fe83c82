"""The docs cannot rot: every relative link resolves (anchors included), nothing points at a
file the repository does not have, and the tables in docs/slo-math.md are the code's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slo_jobs.core.burnrate import CONDITIONS, alert_factor
from slo_jobs.spec import templates as spec_templates
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MATH = ROOT / "docs" / "slo-math.md"


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    out = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text()
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            problems.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            problems.append(f"{target}: no heading with that anchor")
    assert not problems, problems


def test_nothing_points_at_a_missing_math_file() -> None:
    for path in [*DOCS, *(ROOT / "slo_jobs").rglob("*.py"), *(ROOT / "reports").rglob("*")]:
        if path.is_file():
            assert "SLO_MATH.md" not in path.read_text(errors="replace"), path
    written = spec_templates.render("api", "standard", "shop")
    assert "docs/slo-math.md" in written and (ROOT / "docs" / "slo-math.md").is_file()


def table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading`` in docs/slo-math.md."""
    section = MATH.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in rows[2:]]


def test_factor_table_is_the_code_factors() -> None:
    rows = table("Burn rate and alerts")
    assert len(rows) == len(CONDITIONS)
    for row, (share, long_s) in zip(rows, CONDITIONS.values(), strict=True):
        assert float(row[1].rstrip(" %")) / 100 == pytest.approx(share)
        for column, days in ((4, 30), (5, 28)):
            assert float(row[column]) == pytest.approx(
                alert_factor(share, days * 86400, long_s), abs=5e-5), row


def test_tier_table_is_the_init_defaults() -> None:
    rows = table("Tiers")
    assert [re.match(r"`(\w+)`", r[0]).group(1) for r in rows] == list(spec_templates.TIERS)
    for row, tier in zip(rows, spec_templates.TIERS.values(), strict=True):
        assert float(row[1].rstrip(" %")) / 100 == pytest.approx(tier.availability)
        assert float(row[2].removesuffix(" ms").replace(",", "")) / 1000 == \
            pytest.approx(tier.latency_s)
        assert float(row[3].rstrip(" %")) / 100 == pytest.approx(tier.error_rate)
