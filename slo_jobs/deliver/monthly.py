"""The monthly report's messages: an email per team with its SLOs' verdicts and the month's
PDF, a chat message with the month's summary, and a copy of the report's folder on an object
store (docs/operations.md, "Delivery").

Everything is read from what the render wrote (``<out>/<YYYY-MM>/summary.json`` and the
PDFs), so a message says exactly what the report says. Each message is sent through the
``send`` function the caller passes (Airflow's notifiers, in ``dags/``) at most once per
month, channel and key: :func:`slo_jobs.deliver.send_once`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from .. import lake
from ..core import redaction
from ..core.errors import SloJobsError
from ..core.verdict import UNJUDGED
from ..decisions import teams as team_file
from ..lake import LakeDir
from ..report import pages
from ..report.text import pct
from . import chat_escape, send_once

EMAIL, CHAT = "email", "chat"
TEMPLATE = "email-monthly.html.j2"
# The chat message names this many of the month's worst SLOs (the least budget left).
WORST = 3
log = logging.getLogger("slo_jobs")


def month_folder(out_dir: Path, label: str) -> Path:
    return out_dir / label


def read_rows(out_dir: Path, label: str) -> list[dict[str, Any]]:
    """The month's ``summary.json``: each SLO as the report judged it."""
    path = month_folder(out_dir, label) / "summary.json"
    try:
        rows: list[dict[str, Any]] = json.loads(path.read_text())
    except FileNotFoundError:
        raise SloJobsError(f"{path}: not found; expected the rendered report of {label} "
                           "(delivery runs after the render)") from None
    except json.JSONDecodeError as exc:
        raise SloJobsError(f"{path}: not JSON ({exc.msg}); expected the rendered "
                           "report's summary") from None
    return rows


def link(out_dir: Path, label: str, base_url: str | None) -> str:
    """Where readers open the month's report: under ``base_url`` (``$SLO_JOBS_REPORT_URL``,
    where ``<out>/`` is served), else the file's path."""
    if base_url:
        return f"{base_url.rstrip('/')}/{label}/report.html"
    return str(month_folder(out_dir, label) / "report.html")


def verdict(row: Mapping[str, Any]) -> tuple[str, str]:
    """``met``, ``missed`` or ``not judged``, and why not judged."""
    if row.get("met") is True:
        return "met", ""
    if row.get("met") is False:
        return "missed", ""
    status = row.get("status") or "no verdict"
    if row.get("outlook"):
        return "not judged", f"still running; to date {row['outlook']}"
    if status == "too few events":
        return "not judged", f"too few events: {row.get('total') or 0:.0f} in the window"
    if status == "insufficient data":
        return "not judged", (f"insufficient data: {pct(row.get('coverage'), 1)} of the time "
                              f"had data, {pct(row.get('min_coverage'), 0)} needed")
    return "not judged", status if status in UNJUDGED else f"status {status}"


def counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    found = [verdict(r)[0] for r in rows]
    return {"met": found.count("met"), "missed": found.count("missed"),
            "unjudged": found.count("not judged")}


def attachment(out_dir: Path, label: str, team: str) -> Path | None:
    """The team's own PDF of the month when rendered, else the whole month's, else none."""
    folder = month_folder(out_dir, label)
    for path in (folder / f"report-team-{team}.pdf", folder / "report.pdf"):
        if path.is_file():
            return path
    return None


def _line(row: Mapping[str, Any]) -> dict[str, str]:
    said, reason = verdict(row)
    return {"slo": row["slo"], "service": row.get("service") or "", "sli": pct(row.get("sli"), 4),
            "target": pct(row.get("target"), 3), "verdict": said, "reason": reason,
            "spent": pct(row.get("budget_consumed"), 1)}


def emails(out_dir: Path, label: str, teams: Mapping[str, team_file.Team],
           base_url: str | None, pdf_note: str = "") -> list[dict[str, Any]]:
    """One message per team that has addresses and SLOs this month: ``key`` (the team),
    ``to``, ``subject``, ``html`` (escaped, secrets masked) and ``files``."""
    rows = read_rows(out_dir, label)
    mask = redaction.masker()
    template = pages.template_env().get_template(TEMPLATE)
    out = []
    for name, team in sorted(teams.items()):
        own = sorted((r for r in rows if r.get("team") == name), key=lambda r: r["slo"])
        if not team.email or not own:
            log.info("email for team %s: none (%s)", name,
                     "no addresses in the team file" if not team.email else "no SLOs")
            continue
        n = counts(own)
        subject = (f"SLO report {label}, team {name}: {n['met']} met, {n['missed']} missed"
                   + (f", {n['unjudged']} not judged" if n["unjudged"] else ""))
        pdf = attachment(out_dir, label, name)
        html = template.render(subject=subject, team=name, label=label, counts=n,
                               rows=[_line(r) for r in own], link=link(out_dir, label, base_url),
                               attachment=pdf.name if pdf else "", pdf_note=pdf_note)
        out.append({"key": name, "to": list(team.email), "subject": mask(subject),
                    "html": mask(html), "files": [str(pdf)] if pdf else []})
    return out


def chat_text(out_dir: Path, label: str, base_url: str | None) -> str:
    """The month in a few lines: counts, the worst SLOs and the link; secrets masked."""
    rows = read_rows(out_dir, label)
    n = counts(rows)
    judged = [r for r in rows if verdict(r)[0] != "not judged"
              and r.get("budget_remaining") is not None]
    worst = sorted(judged, key=lambda r: (r["budget_remaining"], r["slo"]))[:WORST]
    lines = [f"SLO report {label}: {n['met']} met, {n['missed']} missed, "
             f"{n['unjudged']} not judged, of {len(rows)} SLOs."]
    if worst:
        lines.append("Least budget left: " + "; ".join(
            f"{r['slo']} {verdict(r)[0]}, {pct(r.get('budget_consumed'), 1)} of its budget "
            "spent" for r in worst) + ".")
    lines.append(f"Report: {link(out_dir, label, base_url)}")
    return chat_escape(redaction.masker()("\n".join(lines)))


def send_emails(lake_dir: LakeDir, slos_dir: Path, out_dir: Path, label: str,
                send: Callable[[dict[str, Any]], None], base_url: str | None,
                as_of: datetime, pdf_note: str = "") -> dict[str, list[str]]:
    """Each team's email of the month not sent yet; the teams sent to and those skipped.
    ``as_of``: the run's data interval end, which the ledger records."""
    messages = emails(out_dir, label, team_file.load_for([slos_dir]), base_url, pdf_note)
    return send_once(lake_dir, label, EMAIL, messages, send,
                     lambda m: {"to": m["to"], "subject": m["subject"],
                                "files": [Path(f).name for f in m["files"]]}, as_of)


def send_chat(lake_dir: LakeDir, out_dir: Path, label: str, send: Callable[[str], None],
              base_url: str | None, as_of: datetime) -> dict[str, list[str]]:
    """The month's chat message, unless it was sent."""
    message = {"key": "summary", "text": chat_text(out_dir, label, base_url)}
    return send_once(lake_dir, label, CHAT, [message], lambda m: send(m["text"]),
                     lambda m: {"text": m["text"]}, as_of)


def _bytes(data: bytes) -> Callable[[BinaryIO], None]:
    def fill(out: BinaryIO) -> None:
        out.write(data)
    return fill


def publish(out_dir: Path, label: str, dest: LakeDir) -> list[str]:
    """Copy the month's report folder to ``<dest>/<label>/``, each file written whole. It is
    copied again whenever the month is delivered, so the copy is the folder as rendered last
    (a copy is not a message: writing it twice sends nobody anything)."""
    folder = month_folder(out_dir, label)
    if not folder.is_dir():
        raise SloJobsError(f"{folder}: not found; expected the rendered report of {label}")
    copied = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        lake.write_whole(dest / label / rel, _bytes(path.read_bytes()))
        copied.append(rel)
    return copied
