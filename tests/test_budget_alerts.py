"""Budget alerts from the daily path: slo_extract run with dag.test() for consecutive days
against the test Prometheus, a real SMTP server (aiosmtpd) and a loopback chat webhook.

Three SLOs over the demo's request counters, with targets that make the month's budget cross
its thresholds within the first days of September; which day crosses which threshold, and
every figure, follow from the generator's per-minute truth and docs/slo-math.md (a running
month's budget consumed = bad so far / (B x total so far) x elapsed share)."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from demo import prom
from slo_jobs.core import periods
from slo_jobs.deliver import budget
from slo_jobs.lake import ledger
from slo_jobs.report import text
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
MONTH = periods.month("2026-09")
DAYS = [date(2026, 9, d) for d in range(1, 5)]
EMAIL = {"web": ["web-oncall@example.com", "sre-leads@example.com"],
         "frontend-sre": ["frontend-sre@example.com"]}
TOKEN = "T0001/B0001/hook-secret-9f8e7d"
# slo: (demo service, target, team); the team file below gives each team's thresholds.
SLOS = {"web-availability": ("frontend", 0.99975, "web"),
        "pay-availability": ("checkout", 0.99998, "payments"),
        # burns evenly below every alert condition: its page is frontend's outage alone
        "web-errors": ("frontend", 0.997, "frontend-sre"),
        # one bad event of the month's projected traffic spends more than the whole budget
        "search-strict": ("search", 0.999999999, "web")}
SHARES = {"web": (0.5, 0.75, 1.0), "payments": (0.4,), "frontend-sre": (0.1,)}
TEAMS = f"""teams:
  web: {{size: 5, email: [{', '.join(EMAIL['web'])}]}}
  payments: {{size: 6, budgetAlerts: [0.4]}}
  frontend-sre: {{size: 3, email: [{EMAIL['frontend-sre'][0]}], budgetAlerts: [0.1]}}
"""
DOC = """apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata:
  name: {name}
  labels: {{team: {team}}}
spec:
  service: {service}
  indicator:
    ratio:
      good:  {{selector: 'http_requests_total{{service="{service}",code!~"5.."}}'}}
      total: {{selector: 'http_requests_total{{service="{service}"}}'}}
  objective: {{target: {target}}}
  window: {{calendar: month}}
"""


@dataclass
class Inbox:
    """What the SMTP server and the chat webhook received."""

    mails: list[Message] = field(default_factory=list)
    chats: list[str] = field(default_factory=list)

    def take(self) -> tuple[list[Message], list[str]]:
        out = (list(self.mails), list(self.chats))
        self.mails.clear()
        self.chats.clear()
        return out


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int, int]]:
    from aiosmtpd.controller import Controller

    box = Inbox()

    class Mails:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = message_from_bytes(envelope.content)
            msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            box.mails.append(msg)
            return "250 OK"

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == f"/services/{TOKEN}":
                box.chats.append(json.loads(body)["text"])
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    port = prom.free_port()
    smtp = Controller(Mails(), hostname="127.0.0.1", port=port)
    smtp.start()
    web = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        yield box, port, web.server_address[1]
    finally:
        web.shutdown()
        smtp.stop()


@pytest.fixture(scope="module")
def slos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("budget-slos")
    (folder / "slos.yaml").write_text("---\n".join(
        DOC.format(name=n, service=s, target=t, team=team) for n, (s, t, team) in SLOS.items()))
    (folder / "teams.yaml").write_text(TEAMS)
    return folder


def _consumed(truth: pd.DataFrame) -> dict[str, list[tuple[float, float, float]]]:
    """Per SLO and day of DAYS, as of the day's end: (budget consumed, consumed to date,
    projected events x B), from the generator's counts (docs/slo-math.md)."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for name, (service, target, _) in SLOS.items():
        b = 1 - target
        rows = []
        for d in DAYS:
            t = truth[(truth.service == service) & (truth.ts >= str(MONTH.start))
                      & (truth.ts < str(periods.midnight(d) + periods.DAY))]
            bad, total = int(t.errors.sum()), int(t.requests.sum())
            elapsed = (periods.midnight(d) + periods.DAY - MONTH.start) / (MONTH.end - MONTH.start)
            rows.append((bad / (b * total) * elapsed, bad / (b * total), total / elapsed * b))
        out[name] = rows
    return out


def _expected(truth: pd.DataFrame) -> dict[date, dict[str, list[float]]]:
    """The thresholds each day crosses first, per SLO (none for an SLO too thin to judge)."""
    figures = _consumed(truth)
    out: dict[date, dict[str, list[float]]] = {d: {} for d in DAYS}
    for name, (_, _, team) in SLOS.items():
        if any(n <= 1 for _, _, n in figures[name]):  # too few events: never alerted
            continue
        before = 0.0
        for d, (consumed, _, _) in zip(DAYS, figures[name], strict=True):
            crossed = [s for s in SHARES[team] if before < s <= consumed]
            if crossed:
                out[d][name] = crossed
            before = max(before, consumed)
    return out


def _dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "slo_extract.py")).get_dag("slo_extract")


def _run(day: date, base: Path, conf: dict[str, Any] | None = None,
         run_type: str | None = None, late: bool = False) -> Any:
    """The daily run of ``day``; ``run_type`` and ``late`` flag it as a backfill or as a
    catch-up (started now, months after its day), as the scheduler creates those."""
    from airflow.models import dagrun
    from airflow.sdk import timezone

    made = dagrun.get_or_create_dagrun

    def flagged(**kwargs: Any) -> Any:
        dr = made(**kwargs)
        if run_type is not None:
            dr.run_type = run_type
        if late:
            dr.start_date = timezone.utcnow()
        kwargs["session"].merge(dr)
        kwargs["session"].commit()
        return dr

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dagrun, "get_or_create_dagrun", flagged)
        run = _dag().test(logical_date=periods.midnight(day) + periods.DAY, run_conf=conf)
    assert run.state == "success", (day, run.state)
    return run


@pytest.fixture(scope="module")
def env(prometheus: str, airflow_db: Path, slos_dir: Path,
        inbox: tuple[Inbox, int, int]) -> Iterator[Inbox]:
    box, smtp_port, chat_port = inbox
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PROMETHEUS_DEFAULT", prometheus)
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
            "extra": {"from_email": "slo-jobs@example.com", "disable_ssl": True,
                      "disable_tls": True}}))
        mp.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps({
            "conn_type": "slackwebhook", "host": f"http://127.0.0.1:{chat_port}/services",
            "password": TOKEN}))
        mp.setenv("SLO_JOBS_SLOS_DIR", str(slos_dir))
        yield box


@dataclass
class Day:
    mails: list[Message]
    chats: list[str]


@pytest.fixture(scope="module")
def in_order(env: Inbox, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, dict[date, Day]]:
    """Sep 1 to 4 run one after the other, on time, into one lake: what each day sent."""
    base = tmp_path_factory.mktemp("budget-in-order")
    env.take()
    got = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLO_JOBS_LAKE_DIR", str(base / "lake"))
        for d in DAYS:
            _run(d, base)
            got[d] = Day(*env.take())
    return base, got


def _html(mail: Message) -> str:
    for part in mail.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no HTML part")


def _cell(page: str, css: str) -> str:
    found = re.search(rf'class="{css}">([^<]*)<', page)
    assert found, css
    return html.unescape(found.group(1))


def test_the_scenario_crosses_thresholds_on_several_days(truth: pd.DataFrame) -> None:
    """The targets are chosen so that the test means something: a day with one crossing,
    a day with two of one SLO, an SLO too thin to judge whose budget is overspent."""
    expected = _expected(truth)
    assert sum(1 for d in DAYS if expected[d]) >= 2
    assert any(len(s) >= 2 for by_slo in expected.values() for s in by_slo.values())
    figures = _consumed(truth)["search-strict"]
    assert all(n <= 1 and c >= 1 for c, _, n in figures)


def test_each_crossing_is_sent_once_on_its_day(in_order: tuple[Path, dict[date, Day]],
                                               truth: pd.DataFrame) -> None:
    _, got = in_order
    expected, figures = _expected(truth), _consumed(truth)
    for i, d in enumerate(DAYS):
        want = expected[d]
        mails, chats = got[d].mails, got[d].chats
        # email to the team's addresses (payments has none); a chat message per alert
        emailed = {n: s for n, s in want.items() if SLOS[n][2] in EMAIL}
        assert sorted(m["Subject"] for m in mails) == sorted(
            f"Error budget: {n} ({SLOS[n][2]}) has spent {text.pct(figures[n][i][0], 1)} of "
            f"its 2026-09 budget, past {budget.shares_text(s)}" for n, s in emailed.items()), d
        for m in mails:
            page = _html(m)
            name = _cell(page, "slo")
            team = SLOS[name][2]
            assert sorted(m["X-Envelope-To"].split(", ")) == sorted(EMAIL[team])
            consumed, to_date, _ = figures[name][i]
            assert _cell(page, "team") == team
            assert _cell(page, "crossed") == budget.shares_text(want[name])
            assert _cell(page, "consumed") == text.pct(consumed, 1)
            assert _cell(page, "month-end") == f"{text.pct(to_date, 1)} of its budget"
            # at risk (to date above an even spend) or exhausted, and the month's end named
            assert _cell(page, "to-date").startswith(
                "to date: exhausted" if consumed >= 1 else
                "to date: at risk" if to_date > 1 else "to date: on track")
            assert _cell(page, "to-date").endswith("ends 2026-10-01 00:00 UTC")
        assert len(chats) == len(want), d
        for n, s in want.items():
            [chat] = [c for c in chats if c.startswith(f"{n} ")]
            assert f"crossed {budget.shares_text(s)} of its 2026-09 error budget" in chat
            assert f"Budget consumed: {text.pct(figures[n][i][0], 1)}" in chat
            assert TOKEN not in chat


def test_the_incident_is_named_with_its_start_duration_and_budget(
        in_order: tuple[Path, dict[date, Day]], truth: pd.DataFrame) -> None:
    """The day frontend's outage happened, its message lists the burn it paged for: within
    the generator's outage, its share of the budget the truth's bad events in it."""
    _, got = in_order
    frontend = truth[truth.service == "frontend"]
    minute = frontend[frontend.ts.dt.date.isin(DAYS)]
    outage = minute[minute.errors / minute.requests > 0.01]
    day = outage.ts.min().date()
    i = DAYS.index(day)
    [mail] = [m for m in got[day].mails if "web-errors" in m["Subject"]]
    page = _html(mail)
    rows = re.findall(r'<tr class="incident"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>'
                      r"<td>paged</td><td>([^<]*)</td>", page)
    assert rows, page
    start, end, dur, share = rows[0]
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC)
    t1 = datetime.fromisoformat(end).replace(tzinfo=UTC)
    assert outage.ts.min() <= t0 <= outage.ts.max()
    assert dur == f"{text.num((t1 - t0) / timedelta(minutes=1))} min"
    b = 1 - SLOS["web-errors"][1]
    so_far = frontend[(frontend.ts >= str(MONTH.start))
                      & (frontend.ts < str(periods.midnight(day) + periods.DAY))]
    allowed = b * so_far.requests.sum() / ((i + 1) / 30)
    inside = frontend[(frontend.ts >= t0) & (frontend.ts < t1)].errors.sum()
    assert share == text.pct(inside / allowed, 1)


def test_the_ledger_holds_one_record_per_crossing(in_order: tuple[Path, dict[date, Day]],
                                                  truth: pd.DataFrame) -> None:
    base, _ = in_order
    want = {budget.key(n, s) for by_slo in _expected(truth).values()
            for n, shares in by_slo.items() for s in shares}
    found = {p.stem for p in (base / "lake" / ledger.ROOT / "period=2026-09" / "budget")
             .glob("*.json")}
    assert found == want


def test_a_rerun_of_those_days_sends_nothing(in_order: tuple[Path, dict[date, Day]],
                                             env: Inbox) -> None:
    base, _ = in_order
    records = sorted((base / "lake" / ledger.ROOT).rglob("*.json"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLO_JOBS_LAKE_DIR", str(base / "lake"))
        for d in (DAYS[2], DAYS[1]):  # out of order too
            _run(d, base)
    assert env.take() == ([], [])
    assert sorted((base / "lake" / ledger.ROOT).rglob("*.json")) == records


def test_a_backfill_sends_nothing_unless_asked(env: Inbox, truth: pd.DataFrame,
                                               tmp_path: Path) -> None:
    expected, figures = _expected(truth), _consumed(truth)
    env.take()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLO_JOBS_LAKE_DIR", str(tmp_path / "lake"))
        _run(DAYS[0], tmp_path, run_type="backfill")
        _run(DAYS[1], tmp_path, run_type="backfill")
        _run(DAYS[2], tmp_path, late=True)  # a catch-up: started long after its day
        assert env.take() == ([], [])
        assert not (tmp_path / "lake" / ledger.ROOT).exists()
        # asked for: the month as of that day, every threshold crossed so far in one message
        _run(DAYS[2], tmp_path, conf={"notify_past": True}, run_type="backfill")
        mails, chats = env.take()
        # and an earlier day run after it finds them all sent
        _run(DAYS[1], tmp_path, conf={"notify_past": True}, run_type="backfill")
        assert env.take() == ([], [])
    so_far = {n: sorted({s for d in DAYS[:3] for s in expected[d].get(n, [])})
              for n in SLOS}
    assert len(chats) == sum(1 for s in so_far.values() if s)
    assert sorted(m["Subject"] for m in mails) == sorted(
        f"Error budget: {n} ({SLOS[n][2]}) has spent {text.pct(figures[n][2][0], 1)} of its "
        f"2026-09 budget, past {budget.shares_text(so_far[n])}"
        for n in SLOS if so_far[n] and SLOS[n][2] in EMAIL)
    assert any(len(so_far[n]) >= 2 for n in SLOS)


def _post(url: str) -> Any:
    """A chat sender posting to ``url`` as a webhook client does (urllib: no Airflow)."""
    import urllib.request

    def send(message: str) -> None:
        body = json.dumps({"text": message}).encode()
        urllib.request.urlopen(urllib.request.Request(url, body), timeout=5).read()

    return send


def test_without_connections_nothing_is_sent_and_a_failed_send_is_sent_again(
        in_order: tuple[Path, dict[date, Day]], env: Inbox, slos_dir: Path,
        inbox: tuple[Inbox, int, int], truth: pd.DataFrame, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The task body with the senders the DAG hands it: none (no Connection), one that
    fails (the webhook refuses the connection), then both working."""
    import shutil

    from slo_jobs.core.errors import SloJobsError
    from slo_jobs.run import tasks

    shutil.copytree(in_order[0] / "lake" / "sli", tmp_path / "lake" / "sli")
    lake_dir, (_, _, chat_port) = tmp_path / "lake", inbox
    interval = (periods.midnight(DAYS[2]), periods.midnight(DAYS[2]) + periods.DAY)
    on_time = ("manual", interval[1])
    expected = _expected(truth)
    so_far = {n: shares for n in SLOS
              if (shares := sorted({s for d in DAYS[:3] for s in expected[d].get(n, [])}))}
    env.take()
    got = tasks.budget_alerts(slos_dir, lake_dir, *interval, *on_time, False, None, None)
    assert got["sent"] == [] and not (lake_dir / ledger.ROOT).exists()
    out = capsys.readouterr().out
    for n, shares in so_far.items():
        what = f"budget alerts: {n} 2026-09 {budget.shares_text(shares)}: no "
        assert (what + "email, no SMTP connection" if SLOS[n][2] in EMAIL
                else what + f"email, team {SLOS[n][2]} has no addresses") in out
        assert what + "chat message, no chat connection" in out
    chats: list[str] = []
    with pytest.raises(SloJobsError, match="messages not sent"):
        tasks.budget_alerts(slos_dir, lake_dir, *interval, *on_time, False, None,
                            _post(f"http://127.0.0.1:{prom.free_port()}/refused"))
    assert not (lake_dir / ledger.ROOT).exists()
    got = tasks.budget_alerts(slos_dir, lake_dir, *interval, *on_time, False, None,
                              chats.append)
    assert sorted(s["slo"] for s in got["sent"]) == sorted(so_far)
    assert len(chats) == len(so_far)
    again = tasks.budget_alerts(slos_dir, lake_dir, *interval, *on_time, False, None,
                                _post(f"http://127.0.0.1:{chat_port}/services/{TOKEN}"))
    assert again["sent"] == [] and env.take() == ([], [])
