"""The month in progress at any minute, through the CLI, against a real Prometheus.

The lake is extracted once (``slo-jobs run`` at an as-of after the hour swept); then
``slo-jobs compute`` runs at every minute of one hour: 07:00-08:00 in Asia/Kathmandu (UTC+05:45),
an hour on no UTC hour. Each figure is compared with the events counted here from the
generator's raw samples, as the lake's buckets define them (a sample's increase belongs to the
minute it was taken in, ``(ts, ts + 1 min]``), over the SLO's window to the as-of minute.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from demo import scrapes
from slo_jobs import compute
from slo_jobs.core import periods

pytestmark = pytest.mark.integration

DOC = """\
apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {{name: {name}}}
spec:
  service: {job}
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{job="{job}",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{job="{job}"}}'}}
  objective: {{target: {target}}}
  window: {window}
"""
KATHMANDU = "Asia/Kathmandu"
# The hour swept: 07:00 to 07:59 in Kathmandu on 15 September, 01:15Z to 02:14Z.
HOUR = datetime(2026, 9, 15, 7, 0, tzinfo=ZoneInfo(KATHMANDU)).astimezone(UTC)
MINUTES = [HOUR + timedelta(minutes=k) for k in range(60)]
SLOS = {  # name: (job, target, window): swept every minute
    "kathmandu": ("api15", 0.999, "{calendar: month, timeZone: Asia/Kathmandu}"),
    "rolling": ("api30", 0.995, "{rolling: 7d}"),
}
MORE = {  # besides, for the running month's outputs: a spend on track, one exhausted
    "weekly": ("api30", 0.99, "{calendar: week, timeZone: America/St_Johns}"),
    "strict": ("api60", 0.999, "{calendar: month, timeZone: America/St_Johns}"),
}


def write(folder: Path, slos: dict[str, tuple[str, float, str]]) -> Path:
    folder.mkdir(parents=True)
    (folder / "slos.yaml").write_text("---\n".join(
        DOC.format(name=n, job=j, target=t, window=w) for n, (j, t, w) in slos.items()))
    return folder


def cli(*args: str) -> tuple[int, str, str]:
    """``slo-jobs`` through its entry point, in this process."""
    from slo_jobs import cli as entry

    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["slo-jobs", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            entry.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def sample_counts(real: scrapes.Scrapes, job: str, lo: datetime, hi: datetime
                  ) -> tuple[float, float]:
    """(good, total) events of ``job`` shown by samples taken in ``(lo, hi]``: each sample's
    increase over the one before (its whole value after a reset, or as the first sample of a
    series created after the data began: a fresh counter starts at zero)."""
    lo_ms, hi_ms = int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)
    began = int(real.truth.ts.min().timestamp() * 1000) + 3_600_000
    good = total = 0.0
    for s in real.series:
        if s.labels["__name__"] != scrapes.REQUESTS or s.labels["job"] != job:
            continue
        prev = np.concatenate([[s.values[0] if s.ts_ms[0] < began else 0.0], s.values[:-1]])
        inc = np.where(s.values >= prev, s.values - prev, s.values)
        n = float(inc[(s.ts_ms > lo_ms) & (s.ts_ms <= hi_ms)].sum())
        total += n
        good += n if s.labels["code"] != "500" else 0.0
    return good, total


@pytest.fixture(scope="module")
def extracted(real_prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every day the swept month and windows read, extracted once (data after the hour)."""
    base = tmp_path_factory.mktemp("as-of")
    write(base / "slos", SLOS)
    write(base / "all", {**SLOS, **MORE})
    code, _, err = cli("run", "--month", "2026-09", "--slos", str(base / "all"),
                       "--prometheus-url", real_prometheus, "--lake", str(base / "lake"),
                       "--out", str(base / "out"), "--as-of", "2026-09-16T00:00Z")
    assert code == 0, err
    return base


def budget_remaining(good: float, total: float, target: float, elapsed: float) -> float:
    """docs/slo-math.md: 1 - C_to_date x e."""
    return 1 - (total - good) / ((1 - target) * total) * elapsed


@pytest.mark.parametrize("at", MINUTES, ids=lambda t: f"{t:%H:%MZ}")
def test_every_minute_of_an_hour_is_exact(at: datetime, extracted: Path,
                                          real_scrapes: scrapes.Scrapes) -> None:
    code, out, err = cli("compute", "--month", "2026-09", "--slos", str(extracted / "slos"),
                         "--lake", str(extracted / "lake"), "--as-of", f"{at:%Y-%m-%dT%H:%MZ}")
    assert code == 0 and not err, err
    rows: dict[str, dict[str, Any]] = {r["slo"]: r for r in compute.read_summary(
        extracted / "lake", periods.month("2026-09"))}
    for name, (job, target, _) in SLOS.items():
        r = rows[name]
        month = periods.calendar("month", "2026-09", KATHMANDU if name == "kathmandu" else "UTC")
        good, total = sample_counts(real_scrapes, job, month.start, at)
        elapsed = (at - month.start) / (month.end - month.start)
        assert r["as_of"] == at and r["estimated"] and r["met"] is None, name
        assert (r["good"], r["total"]) == (good, total), name
        assert r["sli"] == pytest.approx(good / total, rel=1e-12), name
        assert r["budget_remaining"] == pytest.approx(
            budget_remaining(good, total, target, elapsed), rel=1e-9), name
        assert r["expected_buckets"] == (at - month.start) / timedelta(minutes=1), name
        assert name in out
    # The rolling SLO's own window ends at the as-of minute: [at - 7 d, at), complete.
    r = rows["rolling"]
    good, total = sample_counts(real_scrapes, "api30", at - timedelta(days=7), at)
    assert (r["window_start"], r["window_end"]) == (at - timedelta(days=7), at)
    assert (r["window_good"], r["window_total"]) == (good, total)
    assert r["window_budget_remaining"] == pytest.approx(
        budget_remaining(good, total, 0.995, 1.0), rel=1e-9)
    assert r["window_met"] == (good / total >= 0.995) and not r["window_estimated"]


# The month in progress at an odd minute, every output of it.
RUNNING = datetime(2026, 9, 15, 1, 37, tzinfo=UTC)
ALL = {**SLOS, **MORE}


def window_of(name: str) -> periods.Period:
    tz = {"kathmandu": KATHMANDU, "rolling": "UTC"}.get(name, "America/St_Johns")
    return periods.calendar("month", "2026-09", tz)


def outlook(real: scrapes.Scrapes, job: str, target: float, start: datetime,
            end: datetime) -> str:
    """docs/slo-math.md for a period still running: exhausted when R <= 0, else on track
    while the spend so far is within an even spend (C_to_date <= 1), else at risk."""
    good, total = sample_counts(real, job, start, RUNNING)
    spent = (total - good) / ((1 - target) * total)
    if 1 - spent * ((RUNNING - start) / (end - start)) <= 0:
        return "exhausted"
    return "on track" if spent <= 1 else "at risk"


@pytest.fixture(scope="module")
def running(extracted: Path) -> dict[str, str]:
    """compute, report (every format) and show of September at 01:37Z on the 15th."""
    at = f"{RUNNING:%Y-%m-%dT%H:%MZ}"
    common = ("--month", "2026-09", "--lake", str(extracted / "lake"))
    code, computed, err = cli("compute", *common, "--slos", str(extracted / "all"),
                              "--as-of", at)
    assert code == 0, err
    code, _, err = cli("report", *common, "--out", str(extracted / "running"), "--as-of", at)
    assert code == 0, err
    code, shown, err = cli("show", *common, "--out", str(extracted / "running"))
    assert code == 0, err
    pdf = subprocess.run(["pdftotext", "-layout", str(extracted / "running" / "2026-09" /
                                                      "report.pdf"), "-"],
                         capture_output=True, text=True, check=True).stdout
    return {"compute": computed, "show": shown, "pdf": " ".join(pdf.split()),
            "html": (extracted / "running" / "2026-09" / "report.html").read_text(),
            "json": (extracted / "running" / "2026-09" / "summary.json").read_text()}


def own_window(name: str) -> periods.Period:
    """The window each SLO is judged on at RUNNING: its month, ISO week or rolling 7 days."""
    if name == "weekly":
        return periods.calendar("week", "2026-W38", "America/St_Johns")
    if name == "rolling":
        return periods.rolling(RUNNING, timedelta(days=7))
    return window_of(name)


def verdict(real: scrapes.Scrapes, name: str) -> dict[str, Any]:
    """docs/slo-math.md on the SLO's own window at RUNNING: a window still running has an
    outlook and no met; a closed one (the rolling 7 days end at the as-of) is met or not."""
    job, target, _ = ALL[name]
    w = own_window(name)
    if w.end > RUNNING:
        return {"met": None, "estimated": True,
                "outlook": outlook(real, job, target, w.start, w.end)}
    good, total = sample_counts(real, job, w.start, w.end)
    return {"met": good / total >= target, "estimated": False, "outlook": None}


def test_a_running_month_is_neither_met_nor_missed(running: dict[str, str],
                                                   real_scrapes: scrapes.Scrapes) -> None:
    rows = {r["slo"]: r for r in json.loads(running["json"])}
    seen = set()
    for name, (job, target, _) in ALL.items():
        month = window_of(name)
        want = outlook(real_scrapes, job, target, month.start, month.end)
        r = rows[name]
        # the month, as context beside the SLO's own window
        assert (r["month_met"], r["month_outlook"]) == (None, want), name
        assert datetime.fromisoformat(r["as_of"]) == RUNNING, name
        assert datetime.fromisoformat(r["period_end"]) == month.end, name
        # the verdict: the SLO's own window
        assert {k: r[k] for k in ("met", "estimated", "outlook")} == verdict(
            real_scrapes, name), name
        assert r["window"] == own_window(name).label, name
        seen.add(want)
    assert seen == {"on track", "at risk", "exhausted"}


def ends(name: str) -> str:
    return f"ends {own_window(name).end:%Y-%m-%d %H:%M} UTC"


def test_the_cli_table_and_show_say_to_date_and_when_it_ends(
        running: dict[str, str], real_scrapes: scrapes.Scrapes) -> None:
    rows = {r["slo"]: r for r in json.loads(running["json"])}
    for out in (running["compute"], running["show"]):
        lines = out.splitlines()
        assert lines[0].startswith("figures to date at 2026-09-15 01:37 UTC")
        for name in ALL:
            row = next(line for line in lines if line.startswith(name + " "))
            assert row.split()[1] == own_window(name).label, row
            month = f"; month 2026-09: {rows[name]['month_status']}"
            tail = month if name in ("weekly", "rolling") else ""
            if verdict(real_scrapes, name)["estimated"]:
                assert "to date: " in row and row.endswith(ends(name) + tail), row
            else:
                assert "to date: " not in row and row.endswith(tail), row


def test_the_html_and_pdf_say_to_date_and_count_no_miss(running: dict[str, str]) -> None:
    html = running["html"]
    rows = {r["slo"]: r for r in json.loads(running["json"])}
    met = sum(1 for r in rows.values() if r["met"] is True)
    missed = sum(1 for r in rows.values() if r["met"] is False)
    assert f'<b id="kpi-missed">{missed}</b>' in html and f'<b id="kpi-met">{met}</b>' in html
    on_track = sum(1 for r in rows.values() if r["outlook"] == "on track")
    behind = sum(1 for r in rows.values() if r["outlook"] in ("at risk", "exhausted"))
    assert f'<b id="kpi-on-track">{on_track}</b>' in html
    assert f'<b id="kpi-at-risk">{behind}</b>' in html
    if not missed:
        assert " missed " not in html.split('id="summary"')[1].split("</section>")[0]
    for name, r in rows.items():
        if not r["estimated"]:
            continue
        section = html.split(f'<div class="slo" data-slo="{name}">')[1].split("</h3>")[0]
        assert f"to date: {r['outlook']}" in section and ends(name) in section
        assert f"to date: {r['outlook']}" in running["pdf"]
    assert ends("kathmandu") in running["pdf"] and "still running" in running["pdf"]


def test_decisions_on_a_running_month_are_estimates(extracted: Path,
                                                    running: dict[str, str]) -> None:
    label = "2026-09"
    lake_dir = extracted / "lake"
    report_json = {r["slo"]: r for r in json.loads(running["json"])}
    # estimates where the SLO's own window is still running (the rolling 7 days are whole)
    running_slos = {n for n, r in report_json.items() if r["estimated"]}
    assert running_slos and running_slos != set(report_json)
    decisions = compute.read_table(lake_dir, label, "decisions")
    assert decisions and all((d["estimated"] and "to date (estimate" in d["rationale"])
                             is (d["slo"] in running_slos) for d in decisions)
    ranked = compute.read_table(lake_dir, label, "priorities")
    assert ranked and all(p["estimated"] is (p["slo"] in running_slos) for p in ranked)
    assert all("to date (estimate" in p["issue"] for p in ranked
               if p["rank"] and p["slo"] in running_slos)
    assert all(r["release"]["low"]["estimated"] is (n in running_slos)
               for n, r in report_json.items())


# 03:00Z on 1 September: the month has begun in UTC, not yet in Los Angeles (07:00Z).
EARLY = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)
ZONED = {"utc": ("api15", 0.999, "{calendar: month}"),
         "la": ("api30", 0.99, "{calendar: month, timeZone: America/Los_Angeles}")}


def test_an_slo_whose_month_has_not_begun_is_left_out_with_a_note(
        real_prometheus: str, tmp_path: Path, real_scrapes: scrapes.Scrapes) -> None:
    slos = write(tmp_path / "slos", ZONED)
    code, out, err = cli("run", "--month", "2026-09", "--slos", str(slos), "--prometheus-url",
                         real_prometheus, "--lake", str(tmp_path / "lake"), "--out",
                         str(tmp_path / "out"), "--as-of", "2026-09-01T03:00Z")
    assert code == 0, err
    la_start = periods.calendar("month", "2026-09", "America/Los_Angeles").start
    assert err.splitlines() == [
        f"note: SLO la left out: month 2026-09 in America/Los_Angeles begins "
        f"{la_start:%Y-%m-%dT%H:%MZ}, after as-of 2026-09-01T03:00Z"]
    assert out.splitlines()[0] == ("figures to date at 2026-09-01 03:00 UTC: a period still "
                                   "running is neither met nor missed until it ends")
    rows = json.loads((tmp_path / "out" / "2026-09" / "summary.json").read_text())
    assert [r["slo"] for r in rows] == ["utc"]
    good, total = sample_counts(real_scrapes, "api15", datetime(2026, 9, 1, tzinfo=UTC), EARLY)
    assert (rows[0]["good"], rows[0]["total"]) == (good, total)
    assert datetime.fromisoformat(rows[0]["as_of"]) == EARLY


@pytest.mark.parametrize("command", ["run", "compute"])
def test_a_month_begun_for_no_slo_is_refused_in_one_line(command: str, real_prometheus: str,
                                                         tmp_path: Path) -> None:
    slos = write(tmp_path / "slos", {"la": ZONED["la"]})
    extra = ("--prometheus-url", real_prometheus, "--out", str(tmp_path / "out")) \
        if command == "run" else ()
    code, out, err = cli(command, "--month", "2026-09", "--slos", str(slos), "--lake",
                         str(tmp_path / "lake"), "--as-of", "2026-09-01T03:00Z", *extra)
    assert (code, out) == (1, "")
    assert err.splitlines() == ["error: month 2026-09: has not begun at as-of "
                                "2026-09-01T03:00Z; expected a month that has started (or a "
                                "later --as-of)"]
    assert not (tmp_path / "lake").exists()


def test_whatif_and_review_at_an_odd_minute(extracted: Path,
                                            real_scrapes: scrapes.Scrapes) -> None:
    at = f"{RUNNING:%Y-%m-%dT%H:%MZ}"
    common = ("--slos", str(extracted / "all"), "--lake", str(extracted / "lake"),
              "--out", str(extracted / "odd"), "--as-of", at)
    code, out, err = cli("whatif", "--slo", "kathmandu", "--target", "0.99", "--from",
                         "2026-09", "--to", "2026-09", *common)
    assert code == 0, err
    month = window_of("kathmandu")
    good, total = sample_counts(real_scrapes, "api15", month.start, RUNNING)
    real, alt = (line for line in out.splitlines() if "(estimated)" in line)
    assert real.startswith("2026-09") and f"{good / total * 100:.4f}%" in real
    assert f"{good / total * 100:.4f}%" in alt
    code, _, err = cli("review", "--week", "2026-W38", *common)
    assert code == 0, err
    md = (extracted / "odd" / "weekly" / "2026-W38" / "review.md").read_text()
    assert "figures as of 2026-09-15 01:37 UTC" in md
    # Kathmandu's ISO week to the as-of minute.
    week = periods.calendar("week", "2026-W38", KATHMANDU)
    good, total = sample_counts(real_scrapes, "api15", week.start, RUNNING)
    row = next(line for line in md.splitlines() if line.startswith("| api15 | kathmandu |"))
    assert f"{good / total * 100:.4f} %" in row


def test_the_one_page_summary_counts_a_running_month_apart(extracted: Path,
                                                           running: dict[str, str]) -> None:
    code, _, err = cli("summary-page", "--month", "2026-09", "--lake", str(extracted / "lake"),
                       "--out", str(extracted / "running"))
    assert code == 0, err
    rows = json.loads(running["json"])
    met = sum(1 for r in rows if r["met"] is True)
    missed = sum(1 for r in rows if r["met"] is False)
    still = sum(1 for r in rows if r["outlook"])
    on_track = sum(1 for r in rows if r["outlook"] == "on track")
    md = (extracted / "running" / "stakeholders" / "2026-09" / "summary-page.md").read_text()
    assert (f"{met} of {len(rows)} SLOs met, {missed} missed, {still} still running "
            f"({on_track} on track to date);") in md
    assert "not judged" not in md
