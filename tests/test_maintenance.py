"""Planned maintenance windows: left out of good and total, or counted good, in every figure;
shown in the report; a changed window never silently changes a month already computed.

The lake is tests/governance_lake.py's: August has 1,000 requests a minute, 7 of them bad,
and 100 bad a minute in the outage from 10:00 to 12:00 UTC on 12 August.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from slo_jobs import compute
from slo_jobs.compute import SloParams, maintenance
from slo_jobs.core import periods
from slo_jobs.core.errors import SpecError
from slo_jobs.report import monthly as report
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from tests import governance_lake as g
from tests.lakeutil import utc

AUGUST = periods.month("2026-08")
AS_OF = utc(2026, 10, 15)
N = 31 * 1440  # August's minutes
OUTAGE_WINDOW = """\
  maintenance:
    countAs: {count_as}
    windows:
      - {{start: '2026-08-12T10:00:00Z', end: '2026-08-12T12:00:00Z', reason: database upgrade}}
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("maintenance-lake")
    g.write(folder)
    return folder


def _august(lake: Path, path: Path) -> dict[str, object]:
    (slo,) = catalog.load([path])
    (row,) = compute.compute_calendar(lake, [slo], "month", "2026-08", AS_OF).summary
    return row


def test_an_excluded_window_leaves_its_minutes_out_of_good_and_total(
        lake: Path, tmp_path: Path) -> None:
    row = _august(lake, g.spec_file(tmp_path, extra=OUTAGE_WINDOW.format(count_as="excluded")))
    total = (N - 120) * 1000
    assert (row["total"], row["bad"]) == (total, (N - 120) * 7)
    assert row["sli"] == pytest.approx(0.993, abs=1e-12)
    assert row["excluded_minutes"] == 120 and row["counted_good_minutes"] == 0
    assert row["coverage"] == 1.0  # planned, not missing data
    (w,) = row["maintenance_windows"]
    assert (w["start"], w["end"], w["count_as"], w["reason"]) == (
        utc(2026, 8, 12, 10), utc(2026, 8, 12, 12), "excluded", "database upgrade")


def test_a_window_counted_good_keeps_its_events_as_good(lake: Path, tmp_path: Path) -> None:
    row = _august(lake, g.spec_file(tmp_path, extra=OUTAGE_WINDOW.format(count_as="good")))
    assert (row["total"], row["bad"]) == (N * 1000, (N - 120) * 7)
    assert row["counted_good_minutes"] == 120 and row["excluded_minutes"] == 0


def test_a_cron_window_repeats_in_its_own_time_zone(lake: Path, tmp_path: Path) -> None:
    """12:00 in Berlin is 10:00 UTC in August: every day's 10:00-11:00 UTC is left out,
    including the outage's first hour; its second hour still counts."""
    extra = ("  maintenance:\n    windows:\n"
             "      - {cron: '0 12 * * *', duration: 1h, timeZone: Europe/Berlin}\n")
    row = _august(lake, g.spec_file(tmp_path, extra=extra))
    left_out = 31 * 60
    assert row["excluded_minutes"] == left_out
    assert row["total"] == (N - left_out) * 1000
    assert row["bad"] == 60 * 100 + (N - left_out - 60) * 7


def test_a_service_document_applies_to_every_slo_of_the_service(
        lake: Path, tmp_path: Path) -> None:
    path = g.spec_file(tmp_path, extra=(
        "---\napiVersion: slo-jobs/v1\nkind: MaintenanceWindows\n"
        "metadata: {name: api-upgrades}\nspec:\n  service: api\n  windows:\n"
        "    - {start: '2026-08-12T10:00:00Z', end: '2026-08-12T12:00:00Z'}\n"))
    row = _august(lake, path)
    assert row["total"] == (N - 120) * 1000 and row["excluded_minutes"] == 120
    (tmp_path / "plain").mkdir()
    (plain,) = catalog.load([g.spec_file(tmp_path / "plain")])
    (with_doc,) = catalog.load([path])
    assert with_doc.spec_hash != plain.spec_hash  # the month is recomputed by a backfill


def test_an_excluded_window_never_pages(lake: Path, tmp_path: Path) -> None:
    """At 99.5 % the outage pages (see test_whatif.py); left out, nothing of it remains,
    while the 0.7 % baseline still holds the 3-day ticket condition (threshold 0.52 %)."""
    (plain,) = catalog.load([g.spec_file(tmp_path, target=0.995)])
    (planned,) = catalog.load([g.spec_file(tmp_path, target=0.995,
                                        extra=OUTAGE_WINDOW.format(count_as="excluded"))])
    before = compute.compute_calendar(lake, [plain], "month", "2026-08", AS_OF).incidents
    after = compute.compute_calendar(lake, [planned], "month", "2026-08", AS_OF).incidents
    assert sorted(i["severity"] for i in before) == ["page", "ticket"]
    assert [i["severity"] for i in after] == ["ticket"]


def test_a_time_slice_touching_a_window_is_left_out(lake: Path, tmp_path: Path) -> None:
    """5-minute slices, good at 95 %: the 24 outage slices (90 %) are bad. A window from
    10:12 to 10:22 touches the slices of 10:10, 10:15 and 10:20, which are left out."""
    extra = ("  budgetingMethod: Timeslices\n  maintenance:\n    windows:\n"
             "      - {start: '2026-08-12T10:12:00Z', end: '2026-08-12T10:22:00Z'}\n")
    objective = "    timeSliceTarget: 0.95\n    timeSliceWindow: 5m\n"
    row = _august(lake, g.spec_file(tmp_path, objective=objective, extra=extra))
    slices = 31 * 288
    assert (row["total"], row["bad"]) == (slices - 3, 24 - 3)
    assert row["no_data_slices"] == 0
    assert row["sli"] == pytest.approx(1 - 21 / (slices - 3), abs=1e-12)
    assert row["excluded_minutes"] == 10


def test_a_changed_window_is_noted_on_the_month_already_computed(
        lake: Path, tmp_path: Path) -> None:
    """August computed without a window, then with one: the new figures carry the first
    ones and the report says so; September, which the window does not touch, does not."""
    monthly = tmp_path / "lake"
    shutil.copytree(lake / "sli", monthly / "sli")  # its own monthly tables
    (first,) = catalog.load([g.spec_file(tmp_path)])
    (changed,) = catalog.load([g.spec_file(tmp_path, extra=OUTAGE_WINDOW.format(
        count_as="excluded"))])
    september = periods.month("2026-09")
    for p in (AUGUST, september):
        runner.compute_month(monthly, [first], p, AS_OF)
    for _ in range(2):  # a second recompute keeps the first figures
        (row,) = runner.compute_month(monthly, [changed], AUGUST, AS_OF)
        assert row["maintenance_changed"] is True
        assert row["first_sli"] == pytest.approx(1 - 323_640 / 44_640_000, abs=1e-12)
        assert row["first_excluded_minutes"] == 0 and row["excluded_minutes"] == 120
        assert row["sli"] == pytest.approx(0.993, abs=1e-12)
    (sep,) = runner.compute_month(monthly, [changed], september, AS_OF)
    assert sep["maintenance_changed"] is False and sep["first_sli"] is None
    files = report.render(monthly, AUGUST, tmp_path / "out", source="lake",
                          generated_at=AS_OF, formats=["html", "json"])
    html = files.html.read_text()
    note = html.split('class="note maintenance-changed"')[1].split("</p>")[0]
    assert "Then: SLI 99.2750 %" in note and "0 min left out" in note
    assert "Now: SLI 99.3000 %" in note and "120 min left out" in note
    assert "2026-08-12 10:00 to 2026-08-12 12:00 UTC (left out: database upgrade)" in html
    # Shaded on all three charts: one band and one legend entry each.
    assert html.count('class="maintenance" x=') == 3
    assert '"maintenance_changed": true' in files.json.read_text()


def test_bucket_ranges_cover_every_touched_bucket() -> None:
    """A window from 00:00:30 to 00:02:00 touches the buckets of 00:00 and 00:01."""
    from slo_jobs.spec.governance import Maintenance, plan_of

    plan = plan_of(Maintenance.model_validate(
        {"windows": [{"start": "2026-08-01T00:00:30Z", "end": "2026-08-01T00:02:00Z"}]}))
    assert maintenance.bucket_ranges(plan, utc(2026, 8, 1), 1440) == (((0, 2),), ())
    assert SloParams.of(catalog.load([Path(__file__).parent.parent / "slos"])[0]
                        ).maintenance is None


@pytest.mark.parametrize(("window", "expected"), [
    ("{start: '2026-08-12T12:00:00Z', end: '2026-08-12T10:00:00Z'}",
     "end 2026-08-12T10:00:00Z is not after start 2026-08-12T12:00:00Z"),
    ("{cron: '0 25 * * *', duration: 1h}",
     "spec.maintenance.windows[0].cron: '0 25 * * *'; expected a cron of five fields"),
    ("{cron: '0 2 * * *'}", "expected 'start' and 'end' (ISO 8601 instants), or 'cron' and "
                            "'duration'"),
    ("{start: 'yesterday', end: '2026-08-12T10:00:00Z'}",
     "spec.maintenance.windows[0].start: 'yesterday'; expected an ISO 8601 instant"),
    ("{cron: '0 2 * * *', duration: 2x}",
     "spec.maintenance.windows[0].duration: '2x'; expected a duration"),
])
def test_bad_windows_are_one_line(tmp_path: Path, window: str, expected: str) -> None:
    path = g.spec_file(tmp_path, extra=f"  maintenance:\n    windows:\n      - {window}\n")
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"{path}:") and expected in line


def test_a_bad_service_document_is_one_line(tmp_path: Path) -> None:
    path = g.spec_file(tmp_path, extra=(
        "---\napiVersion: slo-jobs/v1\nkind: MaintenanceWindows\n"
        "metadata: {name: api-upgrades}\nspec:\n  service: api\n  countAs: ignored\n"
        "  windows:\n    - {start: '2026-08-12T10:00:00Z', end: '2026-08-12T12:00:00Z'}\n"))
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"{path}:") and "spec.countAs: 'ignored'" in line
