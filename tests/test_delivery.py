"""The monthly DAG delivers its month with dag.test(): an email per team to a real SMTP server
(aiosmtpd) on loopback, the chat summary to a loopback webhook receiver, a copy of the
report's folder on the test S3 server; once per month, channel and team, however often the
DAG runs or a delivery task is retried."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.receivers import Mail, SmtpServer, Webhook, smtp_server, webhook

pytestmark = pytest.mark.integration
SEPTEMBER = datetime(2026, 10, 1, tzinfo=UTC)
REPORT_URL = "https://slo.example.com/reports"
# The team file of the test: web has no addresses, so it gets no email.
TEAMS = {"payments": ["payments-sre@example.com", "checkout-lead@example.com"],
         "discovery": ["search@example.com"], "web": [],
         "slo-platform": ["platform@example.com"]}
DELIVERY_TASKS = ("deliver_email", "deliver_chat", "publish")


class Cells(HTMLParser):
    """The cells of each ``<tr data-slo=...>`` of the email's table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._slo: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and dict(attrs).get("data-slo"):
            self._slo = dict(attrs)["data-slo"]
            self.rows[str(self._slo)] = []
        elif tag == "td" and self._slo:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._slo and self._cell is not None:
            self.rows[self._slo].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._slo = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


# The demo's services and pipelines (the SLO kinds of the other demo files have tests of
# their own; delivery does not depend on the kind, and each SLO more is a month to extract).
DEMO_FILES = ("checkout.yaml", "search.yaml", "frontend.yaml", "pipelines.yaml", "pipeline-data")


def slo_folder(folder: Path) -> Path:
    shutil.copytree(ROOT / "slos", folder,
                    ignore=lambda d, names: [n for n in names if Path(d) == ROOT / "slos"
                                             and n not in DEMO_FILES])
    lines = ["teams:"] + [f"  {team}: {{size: 3" + (f", email: [{', '.join(to)}]" if to else "")
                          + "}" for team, to in TEAMS.items()]
    (folder / "teams.yaml").write_text("\n".join(lines) + "\n")
    return folder


def said(row: dict[str, Any]) -> str:
    return {True: "met", False: "missed", None: "not judged"}[row["met"]]


def run_dag(conf: dict[str, Any] | None = None, retry_in: timedelta | None = None,
            on_retry: Any = None) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "slo_monthly_report.py")).get_dag(
        "slo_monthly_report")
    if retry_in is not None:  # the deployment's 30 s, shortened so the test waits less
        task = dag.task_dict["deliver_email"]
        task.retry_delay, task.retry_exponential_backoff = retry_in, False
        task.on_retry_callback = [on_retry]
    return dag.test(logical_date=SEPTEMBER, run_conf=conf)


def tries(run: Any) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in run.get_task_instances() if ti.map_index < 0}


@pytest.fixture(scope="module")
def delivered(prometheus: str, airflow_db: Path, s3: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """September run twice, every channel set up: what each receiver had after each run."""
    from tests.s3server import client, env

    base = tmp_path_factory.mktemp("delivery")
    client(s3).create_bucket(Bucket="reports")  # type: ignore[attr-defined]
    with smtp_server() as smtp, webhook() as chat, pytest.MonkeyPatch.context() as mp:
        for key, value in env(s3).items():
            mp.setenv(key, value)
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp.connection())
        mp.setenv("AIRFLOW_CONN_SLACK_DEFAULT", chat.connection())
        mp.setenv("SLO_JOBS_SLOS_DIR", str(slo_folder(base / "slos")))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(base / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(base / "out"))
        mp.setenv("SLO_JOBS_REPORT_URL", REPORT_URL)
        mp.setenv("SLO_JOBS_PUBLISH_URL", "s3://reports/slo")
        first = run_dag()
        after_first = {"mails": list(smtp.box.mails), "posts": list(chat.posts),
                       "summary": json.loads((base / "out/2026-09/summary.json").read_text()),
                       "files": {p.name: p.read_bytes()
                                 for p in (base / "out/2026-09").iterdir()}}
        second = run_dag({"missing_days": "fail"})  # the month is in the lake now
        yield {"base": base, "s3": s3, "first": first, "second": second, "smtp": smtp,
               "chat": chat, **after_first}


def by_team(mails: list[Mail]) -> dict[str, Mail]:
    owners = {addr: team for team, to in TEAMS.items() for addr in to}
    out = {owners[m.recipients[0]]: m for m in mails}
    assert len(out) == len(mails), [m.recipients for m in mails]
    return out


def test_each_team_with_addresses_gets_one_email(delivered: dict[str, Any]) -> None:
    assert delivered["first"].state == "success"
    mails = by_team(delivered["mails"])
    assert set(mails) == {t for t, to in TEAMS.items() if to}  # web has no addresses
    for team, mail in mails.items():
        assert mail.recipients == TEAMS[team]
        assert mail.sender == "slo-reports@example.com"
        assert mail.message["To"] == ", ".join(TEAMS[team])


def test_email_holds_the_verdicts_of_summary_json(delivered: dict[str, Any]) -> None:
    rows = delivered["summary"]
    for team, mail in by_team(delivered["mails"]).items():
        own = {r["slo"]: r for r in rows if r["team"] == team}
        verdicts = [said(r) for r in own.values()]
        subject = (f"SLO report 2026-09, team {team}: {verdicts.count('met')} met, "
                   f"{verdicts.count('missed')} missed")
        if verdicts.count("not judged"):
            subject += f", {verdicts.count('not judged')} not judged"
        assert mail.message["Subject"] == subject
        cells = Cells()
        cells.feed(mail.html())
        assert set(cells.rows) == set(own), team
        for slo, (name, service, sli, target, verdict, spent) in cells.rows.items():
            r = own[slo]
            assert (name, service) == (slo, r["service"])
            assert sli == f"{r['sli'] * 100:.4f} %"
            assert target == f"{r['target'] * 100:.3f} %"
            assert verdict.split(" (")[0] == said(r), slo
            assert spent == f"{r['budget_consumed'] * 100:.1f} %"
            if r["met"] is None:  # the reason is given
                assert verdict == f"not judged ({r['status']}: {r['total']:.0f} in the window)"
        assert f'<a href="{REPORT_URL}/2026-09/report.html">' in mail.html()
    # the demo's one SLO with too few events to judge is in the platform team's email
    platform = Cells()
    platform.feed(by_team(delivered["mails"])["slo-platform"].html())
    assert platform.rows["report-completion"][4].startswith("not judged (too few events")


def test_email_attaches_the_teams_rendered_pdf(delivered: dict[str, Any]) -> None:
    for team, mail in by_team(delivered["mails"]).items():
        name = f"report-team-{team}.pdf"  # as the run that sent it rendered it
        assert mail.attachments() == {name: delivered["files"][name]}


def test_chat_message_summarises_the_month(delivered: dict[str, Any]) -> None:
    chat: Webhook = delivered["chat"]
    assert chat.paths == [f"/{chat.token}"]
    rows = delivered["summary"]
    verdicts = [said(r) for r in rows]
    judged = sorted((r for r in rows if r["met"] is not None),
                    key=lambda r: (r["budget_remaining"], r["slo"]))[:3]
    assert [p["text"] for p in delivered["posts"]] == ["\n".join([
        f"SLO report 2026-09: {verdicts.count('met')} met, {verdicts.count('missed')} missed, "
        f"{verdicts.count('not judged')} not judged, of {len(rows)} SLOs.",
        "Least budget left: " + "; ".join(
            f"{r['slo']} {said(r)}, {r['budget_consumed'] * 100:.1f} % of its budget spent"
            for r in judged) + ".",
        f"Report: {REPORT_URL}/2026-09/report.html"])]
    assert judged[0]["slo"] == "checkout-availability"  # the demo's bad deploy


def test_report_folder_is_copied_to_the_object_store(delivered: dict[str, Any]) -> None:
    from tests.s3server import client

    s3 = client(delivered["s3"])
    listed = s3.list_objects_v2(Bucket="reports", Prefix="slo/2026-09/")  # type: ignore[attr-defined]
    names = sorted(o["Key"].removeprefix("slo/2026-09/") for o in listed["Contents"])
    folder = delivered["base"] / "out/2026-09"
    assert names == sorted(p.name for p in folder.iterdir())
    for name in names:  # the second run's render, copied again
        body = s3.get_object(Bucket="reports", Key=f"slo/2026-09/{name}")  # type: ignore[attr-defined]
        assert body["Body"].read() == (folder / name).read_bytes(), name


def test_a_second_run_sends_nothing_new(delivered: dict[str, Any]) -> None:
    assert delivered["second"].state == "success"
    assert delivered["smtp"].box.mails == delivered["mails"]
    assert delivered["chat"].posts == delivered["posts"]
    ledger = delivered["base"] / "lake/delivered/period=2026-09"
    assert sorted(p.stem for p in (ledger / "email").glob("*.json")) == \
        sorted(t for t, to in TEAMS.items() if to)
    record = json.loads((ledger / "email/payments.json").read_text())
    assert record["to"] == TEAMS["payments"] and record["files"] == ["report-team-payments.pdf"]
    assert [p.stem for p in (ledger / "chat").glob("*.json")] == ["summary"]


def test_a_failed_send_is_retried_without_rendering_again(
        delivered: dict[str, Any], prometheus: str, tmp_path: Path) -> None:
    # The computed lake of the first run without its ledger: a month not delivered yet.
    first = delivered["base"]
    shutil.copytree(first / "lake", tmp_path / "lake",
                    ignore=shutil.ignore_patterns("delivered", ".locks"))
    smtp = SmtpServer()  # stopped: the first attempt finds no server
    # The link's credentials must not reach a reader.
    url = "https://reader:link-pass-0123456789@slo.example.com/reports"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp.connection())
        mp.delenv("AIRFLOW_CONN_SLACK_DEFAULT", raising=False)
        mp.delenv("SLO_JOBS_PUBLISH_URL", raising=False)
        mp.setenv("SLO_JOBS_SLOS_DIR", str(first / "slos"))
        mp.setenv("SLO_JOBS_LAKE_DIR", str(tmp_path / "lake"))
        mp.setenv("SLO_JOBS_OUT_DIR", str(tmp_path / "out"))
        mp.setenv("SLO_JOBS_REPORT_URL", url)
        try:
            # Airflow calls this when the failed attempt is put up for retry: the server is
            # back before the retry runs.
            run = run_dag({"missing_days": "fail"}, retry_in=timedelta(seconds=1),
                          on_retry=lambda context: smtp.start())
        finally:
            smtp.stop()
    assert run.state == "success"
    counted = tries(run)
    assert counted["deliver_email"] == 2  # failed once, then sent
    assert counted["render"] == counted["merge"] == 1  # nothing recomputed or rendered again
    assert counted["deliver_chat"] == counted["publish"] == 1  # skipped: not set up
    assert sorted(r for m in smtp.box.mails for r in m.recipients) == \
        sorted(a for to in TEAMS.values() for a in to)
    for team, mail in by_team(smtp.box.mails).items():
        html = mail.html()
        assert "link-pass" not in html and "https://***@slo.example.com/reports" in html
        name = f"report-team-{team}.pdf"
        assert mail.attachments() == {name: (tmp_path / "out/2026-09" / name).read_bytes()}
