"""The Grafana dashboard: valid JSON, one row per SLO, panels reading the recorded series."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from slo_jobs import rules
from slo_jobs.core import burnrate
from slo_jobs.rules import dashboard
from slo_jobs.spec import catalog
from tests.conftest import ROOT

# The instant the rules and dashboards are written for (the CLI's --at).
AT = datetime(2026, 10, 1, tzinfo=UTC)

FIXTURE = ROOT / "tests" / "fixtures" / "rules" / "api.yaml"


def test_one_row_per_slo_with_the_expected_panels(tmp_path: Path) -> None:
    everything = catalog.load([ROOT / "slos"])
    board = json.loads(dashboard.write(everything, tmp_path / "slos.json", AT).read_text())
    rows = [p for p in board["panels"] if p["type"] == "row"]
    # Pipeline SLOs read from tables or the Airflow API have no series to chart.
    slos = [s for s in everything if s.pipeline is None]
    assert len(slos) < len(everything)
    assert [r["title"] for r in rows] == [f"{s.name} ({s.service})" for s in slos]
    assert [p["type"] for p in board["panels"]] == \
        ["row", "stat", "gauge", "timeseries", "timeseries"] * len(slos)
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    assert board["templating"]["list"][0]["type"] == "datasource"


def test_queries_read_the_recorded_series_of_their_slo(tmp_path: Path) -> None:
    slos = [s for s in catalog.load([ROOT / "slos"]) if s.pipeline is None]
    board = dashboard.build(slos, AT)
    recorded = {r["record"] for g in yaml.safe_load(rules.render(slos, AT))["groups"]
                for r in g["rules"] if "record" in r}
    panels = [p for p in board["panels"] if p["type"] != "row"]
    for slo, i in zip(slos, range(0, len(panels), 4), strict=True):
        stat, gauge, burn, sli = panels[i:i + 4]
        b = burnrate.budget_fraction(slo.target)
        sel = f'{{slo="{slo.name}"}}'
        assert stat["targets"][0]["expr"] == f"1 - slo:sli_error:ratio_period{sel}"
        assert gauge["targets"][0]["expr"] == f"1 - slo:sli_error:ratio_period{sel} / {b!r}"
        assert [t["expr"] for t in burn["targets"]] == [
            f"slo:sli_error:ratio_rate{w}{sel} / {b!r}" for w in ("5m", "1h", "6h", "1d", "3d")]
        assert sli["targets"][0]["expr"] == f"1 - slo:sli_error:ratio_rate5m{sel}"
        for p in (stat, gauge, burn, sli):
            for t in p["targets"]:
                assert t["expr"].split("{")[0].split()[-1] in recorded, t["expr"]


def test_burn_panel_draws_the_alert_factors() -> None:
    api = catalog.load([FIXTURE])[0]
    burn = dashboard.build([api], AT)["panels"][3]
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "green"), (0.9333, "orange"), (2.8, "orange"), (5.6, "red"), (13.44, "red")]


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         *args: str) -> tuple[int, str, str]:
    from slo_jobs import cli

    monkeypatch.setattr(sys, "argv", ["slo-jobs", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_counts_the_slos_it_draws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The count printed is of the rows drawn; pipeline SLOs left out are named."""
    everything = catalog.load([ROOT / "slos"])
    code, out, _ = _cli(monkeypatch, capsys, "dashboard", "--slos", str(ROOT / "slos"),
                        "--out", str(tmp_path / "d.json"))
    board = json.loads((tmp_path / "d.json").read_text())
    rows = [p["title"].split(" (")[0] for p in board["panels"] if p["type"] == "row"]
    left = [s.name for s in everything if s.name not in rows]
    assert code == 0 and left
    assert out.strip() == (f"wrote {tmp_path / 'd.json'} ({len(rows)} SLOs; left out, without "
                           f"series to chart: {len(left)} pipeline SLOs ({', '.join(left)}))")


def test_cli_writes_rules_and_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(monkeypatch, capsys, "dashboard", "--slos", str(FIXTURE), "--out",
                        str(tmp_path / "d.json"))
    assert code == 0 and "(1 SLO)" in out
    assert json.loads((tmp_path / "d.json").read_text())["uid"] == dashboard.UID
    code, _, _ = _cli(monkeypatch, capsys, "rules", "--slos", str(FIXTURE), "--out",
                      str(tmp_path / "r.yaml"))
    assert code == 0
    assert yaml.safe_load((tmp_path / "r.yaml").read_text())["groups"][0]["name"] == \
        "slo-jobs:api-availability"
    code, _, err = _cli(monkeypatch, capsys, "rules", "--slos", str(FIXTURE), "--out",
                        str(tmp_path / "r.yaml"), "--backfill", "--start", "2026-09-01",
                        "--end", "yesterday", "--prometheus-url", "http://127.0.0.1:9")
    assert code == 1
    assert err.strip().splitlines() == [
        "error: --end: 'yesterday' is not a time; expected YYYY-MM-DD or YYYY-MM-DDTHH:MM "
        "(UTC), e.g. 2026-09-01"]


@pytest.mark.parametrize(("at", "target"), [("1970-01-31T12:07+05:30", 0.99),
                                            ("1970-03-29T00:13Z", 0.999)])
def test_dashboard_and_rules_show_the_phase_in_force(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        at: str, target: float) -> None:
    # Rolling 28 days: phase "strict" judges the windows that begin on or after 1970-03-01.
    spec = tmp_path / "api.yaml"
    spec.write_text(FIXTURE.read_text().replace("objective: {target: 0.999}", (
        "objective:\n    target: 0.999\n    phases:\n"
        "      - {name: baseline, target: 0.99, start: '1970-01-01'}\n"
        "      - {name: strict, target: 0.999, start: '1970-03-01'}")) + (
        "  maintenance:\n    windows:\n      - {cron: '0 2 * * SUN', duration: 2h}\n"))
    for command, out in (("dashboard", "d.json"), ("rules", "r.yaml")):
        code, _, err = _cli(monkeypatch, capsys, command, "--slos", str(spec), "--out",
                            str(tmp_path / out), "--at", at)
        assert code == 0, err
    board = json.loads((tmp_path / "d.json").read_text())
    recorded = {r["record"]: r["expr"] for g in yaml.safe_load(
        (tmp_path / "r.yaml").read_text())["groups"] for r in g["rules"] if "record" in r}
    b = 1 - target
    assert recorded["slo:objective:ratio"] == f"vector({target:g})"
    assert float(recorded["slo:error_budget:ratio"][7:-1]) == pytest.approx(b)
    stat, gauge = board["panels"][1:3]
    assert f"objective {target * 100:g} %" in stat["title"]
    assert [s["value"] for s in stat["fieldConfig"]["defaults"]["thresholds"]["steps"]] == \
        [None, target]
    assert float(gauge["targets"][0]["expr"].rsplit(" / ", 1)[1]) == pytest.approx(b)
    # the maintenance windows the alerts are muted in, from the series the rules record
    (shade,) = board["annotations"]["list"]
    assert shade["expr"].split()[0] == rules.MAINTENANCE_RECORD in recorded
