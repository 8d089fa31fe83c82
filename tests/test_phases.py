"""Progressive SLOs: every month judged by the phase in force at its start (hand-made lake of
tests/governance_lake.py: July SLI 0.996, August 0.99275, September 0.9995)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_jobs import compute
from slo_jobs.compute import phases
from slo_jobs.core import periods
from slo_jobs.core.errors import SpecError
from slo_jobs.report import monthly as report
from slo_jobs.run import runner
from slo_jobs.spec import catalog
from tests import governance_lake as g
from tests.lakeutil import utc

PHASES = """\
    phases:
      - {name: baseline, target: 0.99, start: '2026-07-01'}
      - {name: initial improvement, target: 0.995, start: '2026-08-01'}
      - {name: production readiness, target: 0.999, start: '2026-09-15'}
      - {name: excellence, target: 0.9995, start: '2026-11-01'}
"""


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The lake with July to September computed under the phases, and the SLO file."""
    folder = tmp_path_factory.mktemp("phases")
    lake = folder / "lake"
    g.write(lake)
    slos = catalog.load([g.spec_file(folder, PHASES)])
    for label in ("2026-07", "2026-08", "2026-09"):
        runner.compute_month(lake, slos, periods.month(label), utc(2026, 10, 15))
    return lake, folder


def _row(lake: Path, label: str) -> dict[str, object]:
    (row,) = compute.read_summary(lake, periods.month(label))
    return row


def test_each_month_is_judged_by_the_phase_in_force_at_its_start(
        computed: tuple[Path, Path]) -> None:
    lake, _ = computed
    july, august, september = (_row(lake, m) for m in ("2026-07", "2026-08", "2026-09"))
    aug_sli = 1 - 323_640 / 44_640_000  # 7 bad a minute, 100 for the 120 outage minutes
    assert (july["target"], july["phase"], july["met"]) == (0.99, "baseline", True)
    assert july["sli"] == pytest.approx(0.996, abs=1e-12)
    assert july["next_phase"] == "initial improvement" and july["next_phase_met"] is True
    # August: the 99.5 % phase; 0.725 % errors spend 145 % of its budget.
    assert (august["target"], august["phase"], august["met"]) == (0.995, "initial improvement",
                                                                  False)
    assert august["sli"] == pytest.approx(aug_sli, abs=1e-12)
    assert august["budget_consumed"] == pytest.approx((1 - aug_sli) / 0.005, abs=1e-9)
    assert august["status"] == "exhausted"
    assert (august["next_phase"], august["next_phase_target"]) == ("production readiness", 0.999)
    assert august["next_phase_met"] is False
    # Production readiness starts on 15 September: the month began under the phase before.
    assert (september["target"], september["phase"]) == (0.995, "initial improvement")
    assert september["next_phase_start"] == "2026-09-15"
    assert september["met"] is True and september["next_phase_met"] is True  # 0.9995 >= 0.999
    assert september["budget_remaining"] == pytest.approx(1 - 0.0005 / 0.005, abs=1e-9)


def test_before_the_first_phase_the_objective_target_applies(tmp_path: Path) -> None:
    text = PHASES.replace("0.99, start: '2026-07-01'", "0.99, start: '2026-07-10'")
    (slo,) = catalog.load([g.spec_file(tmp_path, text.replace("target: 0.99,", "target: 0.98,"))])
    assert phases.target_at(slo, utc(2026, 7, 1)) == 0.99  # the objective's own target
    assert phases.in_force(slo, utc(2026, 7, 1)) is None
    assert phases.target_at(slo, utc(2026, 7, 10)) == 0.98
    assert phases.target_at(slo, utc(2026, 11, 1)) == 0.9995


def test_phases_change_the_spec_hash(tmp_path: Path) -> None:
    (plain,) = catalog.load([g.spec_file(tmp_path)])
    (phased,) = catalog.load([g.spec_file(tmp_path, PHASES)])
    assert plain.spec_hash != phased.spec_hash and len(phased.phases) == 4
    from slo_jobs.spec import openslo

    _, warnings = openslo.export([phased])
    assert warnings == [f"{phased.source}:{phased.line}: spec.objective.phases: has no "
                        "OpenSLO v1 equivalent; not exported"]


def test_the_report_shows_the_next_phase_and_the_past_months_against_it(
        computed: tuple[Path, Path]) -> None:
    lake, folder = computed
    files = report.render(lake, periods.month("2026-09"), folder / "out", source="lake",
                          generated_at=utc(2026, 10, 15), formats=["html"])
    html = files.html.read_text()
    phase_row = html.split('<tr class="phase">')[1].split("</tr>")[0]
    assert "<b>initial improvement</b> (since 2026-08-01)" in phase_row
    assert "next: <b>production readiness</b>, 99.900 % from 2026-09-15" in phase_row
    assert "this month would meet it" in phase_row
    assert "<th>Meets production readiness (99.900 %)</th>" in html
    # July 0.996 and August 0.99275 fall short of 0.999; September's 0.9995 meets it.
    for month, expected in (("2026-07", "no"), ("2026-08", "no"), ("2026-09", "yes")):
        assert f'<td data-meets-next="{month}">{expected}</td>' in html


@pytest.mark.parametrize(("phase_lines", "expected"), [
    ("      - {name: a, target: 0.99, start: '2026-08-01'}\n"
     "      - {name: b, target: 0.995, start: '2026-07-01'}\n",
     "spec.objective.phases: fields ... ; phases[1].start 2026-07-01 is not after "
     "phases[0].start 2026-08-01; expected phases strictly ordered by start"),
    ("      - {name: a, target: 0.99, start: '2026-08-01'}\n"
     "      - {name: b, target: 0.995, start: '2026-08-01'}\n",
     "phases[1].start 2026-08-01 is not after phases[0].start 2026-08-01"),
    ("      - {name: a, target: 1, start: '2026-08-01'}\n",
     "spec.objective.phases[0].target: 1; input should be less than 1"),
    ("      - {name: a, target: 0, start: '2026-08-01'}\n",
     "spec.objective.phases[0].target: 0; input should be greater than 0"),
    ("      - {name: a, target: 0.99, start: '1 Aug 2026'}\n",
     "spec.objective.phases[0].start: '1 Aug 2026'; expected a date 'YYYY-MM-DD'"),
])
def test_bad_phases_are_one_line(tmp_path: Path, phase_lines: str, expected: str) -> None:
    path = g.spec_file(tmp_path, "    phases:\n" + phase_lines)
    with pytest.raises(SpecError) as err:
        catalog.load([path])
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"{path}:1")
    if "fields ..." in expected:
        head, _, tail = expected.partition("fields ... ; ")
        assert head in line and tail in line
    else:
        assert expected in line
