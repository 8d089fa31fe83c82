"""What-if targets over past months, from the lake only (tests/governance_lake.py's data).

Expected figures are derived from the per-minute counts written to the lake:
SLI = good / total; consumed = (1 - SLI) / (1 - target); the status at a month's end is
"exhausted" when remaining <= 0, else "healthy" below an even spend (docs/slo-math.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slo_jobs.core.errors import SloJobsError
from slo_jobs.run import whatif
from slo_jobs.spec import catalog
from tests import governance_lake as g
from tests.lakeutil import utc

AS_OF = utc(2026, 10, 15)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("whatif-lake")
    g.write(folder)
    return folder


def _month(label: str) -> tuple[float, float]:
    """(good, total) of a month, from the counts the lake was written with."""
    n = g.MINUTES[label]
    if label == "2026-07":
        return n * g.JULY[0], n * g.JULY[1]
    if label == "2026-09":
        return n * g.SEPTEMBER[0], n * g.SEPTEMBER[1]
    good = (n - g.OUTAGE_MINUTES) * g.AUGUST[0] + g.OUTAGE_MINUTES * g.OUTAGE[0]
    return good, n * g.AUGUST[1]


def test_a_stricter_target_judges_the_same_months_again(lake: Path, tmp_path: Path) -> None:
    slo = catalog.load([g.spec_file(tmp_path)])[0]
    rows = whatif.run(lake, slo, whatif.Scenario(target=0.995), "2026-07", "2026-09", AS_OF)
    assert [r.period for r, _ in rows] == ["2026-07", "2026-08", "2026-09"]
    for real, alt in rows:
        good, total = _month(real.period)
        sli = good / total
        assert real.sli == pytest.approx(sli, abs=1e-12)
        assert alt.sli == pytest.approx(sli, abs=1e-12)  # the data does not change
        assert (real.target, alt.target) == (0.99, 0.995)
        assert real.budget_remaining == pytest.approx(1 - (1 - sli) / 0.01, abs=1e-9)
        assert alt.budget_remaining == pytest.approx(1 - (1 - sli) / 0.005, abs=1e-9)
        assert real.met is (sli >= 0.99) and alt.met is (sli >= 0.995)
        assert not real.estimated and not alt.estimated
    july, august, september = rows
    # August: 323,640 bad of 44,640,000 spends 72.5 % of a 99 % budget, 145 % of a 99.5 % one.
    assert 1 - _month("2026-08")[0] / _month("2026-08")[1] == pytest.approx(323_640 / 44_640_000)
    assert august[0].status == "healthy" and august[0].met is True
    assert august[1].status == "exhausted" and august[1].met is False
    assert august[0].decisions == {"low": "approve", "medium": "approve", "high": "review"}
    assert august[1].decisions == {"low": "block", "medium": "block", "high": "block"}
    # The 10 % outage stays under the 99 % page factor (14.88 x 1 % = 14.9 % errors) but
    # passes the 99.5 % one (7.44 %): one page only with the what-if. Its 0.7 % baseline
    # is under the 3 d ticket threshold at 99 % (1.03 %) and over it at 99.5 % (0.52 %).
    assert (august[0].pages, august[0].tickets) == (0, 0)
    assert (august[1].pages, august[1].tickets) == (1, 1)
    assert (july[0].pages, july[0].tickets, july[1].pages, july[1].tickets) == (0, 0, 0, 0)
    assert september[1].met is True and september[1].status == "healthy"


def test_table_shows_both_judgements_and_the_tally(lake: Path, tmp_path: Path) -> None:
    slo = catalog.load([g.spec_file(tmp_path)])[0]
    scenario = whatif.Scenario(target=0.995)
    rows = whatif.run(lake, slo, scenario, "2026-07", "2026-09", AS_OF)
    text = whatif.table(slo, scenario, rows)
    lines = text.splitlines()
    aug = lines.index(next(line for line in lines if line.startswith("2026-08")))
    assert "real" in lines[aug] and "healthy" in lines[aug] and "approve/approve/review" \
        in lines[aug]
    assert "what-if" in lines[aug + 1] and "exhausted" in lines[aug + 1] \
        and "block/block/block" in lines[aug + 1]
    assert lines[aug + 1].split()[1] == "99.50%"
    assert lines[-1] == "met: 3 of 3 periods as defined, 2 of 3 with the what-if"


def test_another_budgeting_method_counts_slices(lake: Path, tmp_path: Path) -> None:
    """Timeslices of 1 minute with a slice target of 0.995: a July minute (0.996) and a
    September minute (0.9995) are good slices, an August minute (0.993, or 0.9 in the
    outage) is a bad one."""
    from datetime import timedelta

    slo = catalog.load([g.spec_file(tmp_path)])[0]
    scenario = whatif.Scenario(method="Timeslices", slice_window=timedelta(minutes=1),
                               slice_target=0.995)
    rows = whatif.run(lake, slo, scenario, "2026-07", "2026-09", AS_OF)
    assert [alt.sli for _, alt in rows] == [1.0, 0.0, 1.0]
    assert [alt.method for _, alt in rows] == ["Timeslices"] * 3
    # RatioTimeslices takes no slice target: refused by the spec's own rule, in one line.
    scenario = whatif.Scenario(method="RatioTimeslices", slice_target=0.995)
    with pytest.raises(SloJobsError, match="^--budgeting: RatioTimeslices for SLO "
                       "api-availability: budgetingMethod RatioTimeslices needs "
                       "timeSliceWindow and no timeSliceTarget"):
        whatif.run(lake, slo, scenario, "2026-07", "2026-09", AS_OF)
    # Without a slice target the mean of the 1-minute ratios is the SLI: July's 0.996.
    rows = whatif.run(lake, slo, whatif.Scenario(method="RatioTimeslices"), "2026-07",
                      "2026-07", AS_OF)
    assert rows[0][1].sli == pytest.approx(0.996, abs=1e-12)


def test_a_rolling_window_ends_at_each_month_end(lake: Path, tmp_path: Path) -> None:
    """28 days to 1 September: 12 August 10:00 lies inside (4 Aug to 1 Sep), so the window
    holds 28 x 1,440 minutes, 120 of them the outage."""
    from datetime import timedelta

    slo = catalog.load([g.spec_file(tmp_path)])[0]
    rows = whatif.run(lake, slo, whatif.Scenario(rolling=timedelta(days=28)), "2026-08",
                      "2026-08", AS_OF)
    (real, alt), = rows
    n = 28 * 1440
    bad = (n - g.OUTAGE_MINUTES) * 7 + g.OUTAGE_MINUTES * 100
    assert alt.sli == pytest.approx(1 - bad / (n * 1000), abs=1e-12)
    assert (alt.start, alt.end) == (utc(2026, 8, 4), utc(2026, 9, 1))
    assert real.period == "2026-08" and alt.target == real.target == 0.99


@pytest.mark.parametrize(("target", "first", "last", "expected"), [
    (1.0, "2026-07", "2026-09", "--target: found 1; expected a number in (0, 1)"),
    (0.995, "2026-09", "2026-07", "--to 2026-07: before --from 2026-09"),
    (0.995, "2026-11", "2026-12", "--from: 2026-11 has not begun at as-of"),
])
def test_bad_what_ifs_are_one_line(lake: Path, tmp_path: Path, target: float, first: str,
                                   last: str, expected: str) -> None:
    slo = catalog.load([g.spec_file(tmp_path)])[0]
    with pytest.raises(SloJobsError) as err:
        whatif.run(lake, slo, whatif.Scenario(target=target), first, last, AS_OF)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_prints_the_table_and_writes_the_page(lake: Path, tmp_path: Path) -> None:
    slos = g.spec_file(tmp_path)
    out = tmp_path / "out"
    proc = _cli("whatif", "--slo", g.SLO, "--target", "0.995", "--from", "2026-07", "--to",
                "2026-09", "--slos", str(slos), "--lake", str(lake), "--out", str(out),
                "--as-of", "2026-10-15T00:00Z", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "met: 3 of 3 periods as defined, 2 of 3 with the what-if" in proc.stdout
    page = out / "whatif" / f"{g.SLO}.html"
    assert f"{g.SLO}.html" in proc.stdout and str(page.resolve()) in proc.stdout
    html = page.read_text()
    assert html.count('data-kind="what-if"') == 3 and html.count('data-kind="real"') == 3
    assert 'data-period="2026-08" data-kind="what-if"' in html
    august = html.split('data-period="2026-08" data-kind="what-if"')[1].split("</tr>")[0]
    assert "exhausted" in august and "block / block / block" in august
    assert "-45.0 %" in august  # 1 - 1.45


def test_cli_unknown_slo_is_one_line(lake: Path, tmp_path: Path) -> None:
    proc = _cli("whatif", "--slo", "nope", "--target", "0.995", "--from", "2026-07", "--to",
                "2026-07", "--slos", str(g.spec_file(tmp_path)), "--lake", str(lake),
                cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: --slo: found 'nope'; expected one of api-availability"


def test_months_never_extracted_are_named_with_the_command_that_extracts_them(
        lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import date

    from slo_jobs.core import periods
    from tests.clirun import slo_jobs

    slos, out = g.spec_file(tmp_path), tmp_path / "out"
    stored = {date.fromisoformat(p.parent.name.removeprefix("date="))
              for p in lake.glob(f"sli/slo={g.SLO}/date=*/part-0.parquet")}
    labels = [m.label for m in periods.month_range("2026-04", "2026-09")]
    days = {m: periods.utc_days(periods.month(m)) for m in labels}
    have = {m: sum(d in stored for d in days[m]) for m in labels}
    absent = [m for m in labels if have[m] == 0]
    partial = [m for m in labels if 0 < have[m] < len(days[m])]
    judged = [m for m in labels if have[m]]
    assert absent and partial  # April and May never extracted; June only its last days

    code, text, err = slo_jobs(capsys, "whatif", "--slo", g.SLO, "--target", "0.995",
                               "--from", labels[0], "--to", labels[-1], "--slos", str(slos),
                               "--lake", str(lake), "--out", str(out),
                               "--as-of", "2026-10-15T00:17+05:30")
    assert code == 0, err
    lines = text.splitlines()
    shown = [line.split()[0] for line in lines if line[:4].isdigit() and "real" in line]
    assert shown == judged  # the never-extracted months are not judged as "no data"
    assert any(line.startswith("met: ") and f"of {len(judged)} periods as defined" in line
               for line in lines)
    for m in absent:
        assert f"{m}: not in the lake, left out" in lines
    for m in partial:
        assert f"{m}: {len(days[m]) - have[m]} of {len(days[m])} days not in the lake " \
            "(read as no data)" in lines
    assert f"slo-jobs backfill --from {absent[0]} --to {partial[-1]}" in text
    page = " ".join((out / "whatif" / f"{g.SLO}.html").read_text().split())
    assert f"Missing from the lake: {absent[0]}: not in the lake, left out" in page
    assert page.count('data-kind="real"') == len(judged)

    code, text, err = slo_jobs(capsys, "whatif", "--slo", g.SLO, "--target", "0.995",
                               "--from", absent[0], "--to", absent[-1], "--slos", str(slos),
                               "--lake", str(lake), "--out", str(out))
    assert code == 1 and text == ""
    assert err.splitlines() == [
        f"error: SLO {g.SLO}: {', '.join(absent)} not in the lake {lake}; expected the months "
        f"extracted first: slo-jobs backfill --from {absent[0]} --to {absent[-1]} "
        "--slos <folder> --prometheus-url <url>"]
