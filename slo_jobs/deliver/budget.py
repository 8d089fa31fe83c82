"""Budget alerts: a warning while a month runs, once its SLO has spent a share of the month's
error budget that its team asked to hear about (``budgetAlerts`` in the team file, default
50 %, 75 % and 100 %).

The daily extraction computes each SLO's month to date as of the day's end (the compute
stage's running month, each SLO in its own zone) and hands the thresholds newly crossed to
the senders it was given: an email to the team's addresses, a chat message when a chat
connection is set. A threshold is new while the month's budget consumed is at or above it and
the delivery ledger (``lake.ledger``, channel ``budget``) has no record of it for that SLO
and month; a record is written for each threshold of a message once the message went out,
so a rerun, a retry or days run out of order never send a crossing twice. A run about a day
long past (a backfill, a catch-up) sends nothing unless asked (``is_past``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import compute
from ..core import periods, redaction, verdict
from ..decisions.teams import DEFAULT_BUDGET_ALERTS, Team
from ..lake import LakeDir, ledger
from ..report import pages, text
from ..spec import Slo
from . import chat_escape

CHANNEL = "budget"
TEMPLATE = "budget_alert.html.j2"
# A run that started more than this after its day ended is a catch-up of the past: the
# scheduler starts a day's run minutes after the day (plus the ingest grace); one started a
# day later was created by catch-up, a backfill or a manual run of an old day.
PAST_GRACE = timedelta(days=1)
BACKFILL_RUN_TYPE = "backfill"

EmailSender = Callable[[dict[str, Any]], None]
ChatSender = Callable[[str], None]


@dataclass
class Alert:
    """One message: the thresholds one SLO newly crossed in its month, with the figures."""

    slo: Slo
    team: Team | None
    month: str
    shares: list[float]
    row: dict[str, Any]
    incidents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recipients(self) -> list[str]:
        return list(self.team.email) if self.team is not None else []


def is_past(day_end: datetime, run_type: str, run_start: datetime | None,
            grace: timedelta = PAST_GRACE) -> bool:
    """Whether a run is about the past: a backfill (its run type says so), or a run that
    started more than ``grace`` after the end of the day it covers (a catch-up, a manual run
    of an old day). Decided from the run, not from the clock at the time of sending, so a
    retry of an on-time run still sends."""
    if run_type == BACKFILL_RUN_TYPE:
        return True
    return run_start is not None and run_start - day_end > grace


def key(slo: str, share: float) -> str:
    """The ledger key of one crossing: ``checkout-availability-75`` (``-12p5`` for
    12.5 %), within the safe-name characters."""
    return f"{slo}-{share * 100:g}".replace(".", "p")


def shares_text(shares: Sequence[float]) -> str:
    return ", ".join(f"{s * 100:g} %" for s in shares)


def month_label(slo: Slo, as_of: datetime) -> str:
    """The SLO's month (in its zone) that holds the instant just before ``as_of``."""
    return periods.label_of("month", as_of - timedelta(microseconds=1), slo.time_zone)


def due(lake_dir: LakeDir, slos: Sequence[Slo], teams: Mapping[str, Team],
        as_of: datetime) -> tuple[list[Alert], list[str]]:
    """(the alerts owed at ``as_of``: per SLO, the thresholds of its team crossed and not in
    the ledger; a note per SLO passed over). An SLO whose month has too few events, too
    little data or none (``verdict.UNJUDGED``) is not alerted."""
    alerts: list[Alert] = []
    notes: list[str] = []
    by_month: dict[str, list[Slo]] = {}
    for s in slos:
        by_month.setdefault(month_label(s, as_of), []).append(s)
    for label, group in sorted(by_month.items()):
        result = compute.compute_calendar(lake_dir, group, "month", label, as_of=as_of,
                                          processes=False)
        by_name = {s.name: s for s in group}
        for row in result.summary:
            slo = by_name[row["slo"]]
            team = teams.get(slo.team) if slo.team else None
            if row["status"] in verdict.UNJUDGED:
                notes.append(f"budget alerts: {slo.name} {label}: {row['status']}; "
                             "not alerted")
                continue
            consumed = row["budget_consumed"] or 0.0
            thresholds = team.budget_alerts if team is not None else DEFAULT_BUDGET_ALERTS
            new = [x for x in thresholds if consumed >= x
                   and ledger.sent(lake_dir, label, CHANNEL, key(slo.name, x)) is None]
            if new:
                alerts.append(Alert(slo, team, label, new, row,
                                    [i for i in result.incidents if i["slo"] == slo.name]))
    return alerts, notes


def _figures(a: Alert) -> dict[str, Any]:
    """What both messages say, in the monthly report's words."""
    r = a.row
    lasts = None
    if r.get("estimated"):
        lasts = (f"{text.num(r['exhaustion_days'], 1)} days at the last day's burn"
                 if r.get("exhaustion") == "projected" else r.get("exhaustion") or "n/a")
    return {
        "slo": a.slo.name, "service": a.slo.service, "team": a.slo.team or "no team",
        "month": a.month, "crossed": shares_text(a.shares), "as_of": text.ts(r["as_of"]),
        "consumed": text.pct(r["budget_consumed"], 1),
        "remaining": text.pct(r["budget_remaining"], 1),
        # at this pace the month spends what it has spent of the budget so far, to date
        "month_end": (text.pct(r["budget_consumed_to_date"], 1) if r.get("estimated")
                      else None),
        "to_date": text.to_date(r) or f"the month has ended: {r['status']}",
        "lasts": lasts, "status": r["status"],
        "runbook": a.slo.shown()["runbook_url"], "dashboard": a.slo.shown()["dashboard_url"],
        "incidents": [{"start": text.ts(i["start"]), "end": text.ts(i["end"]),
                       "duration": f"{text.num(i['duration_minutes'])} min",
                       "would_have": "paged" if i["severity"] == "page" else "opened a ticket",
                       "share": text.pct(i["budget_share"], 1)} for i in a.incidents],
    }


def subject(a: Alert) -> str:
    f = _figures(a)
    return (f"Error budget: {f['slo']} ({f['team']}) has spent {f['consumed']} of its "
            f"{f['month']} budget, past {f['crossed']}")


def email(a: Alert, mask: Callable[[str], str]) -> dict[str, Any]:
    """The email of ``a``: escaped HTML from the template, every text masked."""
    html = pages.template_env().get_template(TEMPLATE).render(a=_figures(a))
    return {"to": a.recipients, "subject": mask(subject(a)), "html": mask(html), "files": []}


def chat(a: Alert, mask: Callable[[str], str]) -> str:
    """The chat message of ``a``: the same figures as the email, in a few lines."""
    f = _figures(a)
    lines = [f"{f['slo']} (service {f['service']}, team {f['team']}) crossed {f['crossed']} "
             f"of its {f['month']} error budget as of {f['as_of']} UTC",
             f"Budget consumed: {f['consumed']} (remaining {f['remaining']})"]
    if f["month_end"]:
        lines.append(f"At this pace the month ends at {f['month_end']} of its budget")
    lines.append(f["to_date"])
    if f["lasts"]:
        lines.append(f"Budget lasts: {f['lasts']}")
    if f["incidents"]:
        lines.append("Incidents so far: " + "; ".join(
            f"{i['start']} UTC, {i['duration']}, {i['would_have']}, {i['share']} of the "
            "budget" for i in f["incidents"]))
    else:
        lines.append("Incidents so far: none")
    lines.extend(f"{k.capitalize()}: {f[k]}" for k in ("runbook", "dashboard") if f[k])
    return chat_escape(mask("\n".join(lines)))


def deliver(lake_dir: LakeDir, alerts: Sequence[Alert], send_email: EmailSender | None,
            send_chat: ChatSender | None, as_of: datetime
            ) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Send each alert and record its thresholds (``as_of``: the instant the alerts were
    computed at, the day's end); (what was sent, notes, failures).

    A failed send leaves its alert unrecorded (the retry sends it) and does not stop the
    others; an alert nothing could be sent for (no addresses and no chat) is not recorded
    either, so it goes out once a way to send it is configured."""
    mask = redaction.masker()
    sent: list[dict[str, Any]] = []
    notes: list[str] = []
    failures: list[str] = []
    for a in alerts:
        what = f"{a.slo.name} {a.month} {shares_text(a.shares)}"
        how: list[str] = []
        if not a.recipients:
            notes.append(f"budget alerts: {what}: no email, "
                         + (f"team {a.slo.team} has no addresses" if a.team is not None
                            else f"team {a.slo.team} not in the team file" if a.slo.team
                            else "the SLO names no team"))
        elif send_email is None:
            notes.append(f"budget alerts: {what}: no email, no SMTP connection")
        if send_chat is None:
            notes.append(f"budget alerts: {what}: no chat message, no chat connection")
        try:
            if a.recipients and send_email is not None:
                send_email(email(a, mask))
                how.append("email")
            if send_chat is not None:
                send_chat(chat(a, mask))
                how.append("chat")
        except Exception as exc:  # any transport's error: the task fails after the others
            failures.append(mask(f"budget alerts: {what}: sending failed: "
                                 f"{type(exc).__name__}: {exc}"))
            continue
        if not how:
            continue
        for share in a.shares:
            ledger.mark_sent(lake_dir, a.month, CHANNEL, key(a.slo.name, share),
                             {"slo": a.slo.name, "share": share, "sent_by": how,
                              "budget_consumed": a.row["budget_consumed"],
                              "recipients": a.recipients}, as_of)
        sent.append({"slo": a.slo.name, "month": a.month, "shares": a.shares, "via": how,
                     "budget_consumed": a.row["budget_consumed"]})
    return sent, notes, failures
