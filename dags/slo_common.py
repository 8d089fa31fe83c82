"""Run-time settings shared by the slo-jobs DAGs: folders and the connections.

Nothing here runs at parse time; the DAG files call these inside task bodies.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import Asset

if TYPE_CHECKING:  # imported by the functions below: parsing a DAG file loads no data stack
    from slo_jobs.lake import LakeDir
    from slo_jobs.sources.endpoint import AirflowConfig, Endpoint, PrometheusConfig

E = TypeVar("E", bound="Endpoint")
log = logging.getLogger("slo_jobs")
_ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_CONN_ID = "prometheus_default"
AIRFLOW_CONN_ID = "airflow_api"  # slo_jobs.sources.endpoint.AIRFLOW_CONN_ID
# The aws-type Connection holding the object store's credentials when the lake is s3://...
LAKE_CONN_ID = "aws_default"
# Delivery: Airflow's SMTP and Slack-webhook notifiers read these Connections.
SMTP_CONN_ID = "smtp_default"
CHAT_CONN_ID = "slack_default"
# Every task that queries Prometheus runs in this pool: its slots cap concurrent queries.
# Create it once per deployment: airflow pools set prometheus 4 "Prometheus query_range"
PROMETHEUS_POOL = "prometheus"
# An extraction shard task reads this many SLOs at a time and holds as many slots of the
# pool, so the pool's size stays the bound on queries in flight (a pool of 4 runs two shard
# tasks at once). Two, not more: a task decodes its answers on one core (the GIL), and two
# reads keep it busy while Prometheus answers the other. The pool needs at least this many
# slots, or the shard tasks are never scheduled.
SHARD_QUERIES = 2
# SLOs per extraction shard task (DAG param shard_size of slo_extract, fill_shard_size of
# slo_monthly_report): a task process spends about 4.9 s of CPU starting, an SLO-day about
# 15 ms, so at 500 the start is under 10 ms per SLO-day (docs/operations.md, "Extraction in
# shards").
EXTRACT_SHARD_SIZE = 500


@dataclass(frozen=True)
class Paths:
    slos: Path
    lake: LakeDir
    out: Path


def paths() -> Paths:
    return Paths(
        slos=Path(os.environ.get("SLO_JOBS_SLOS_DIR", _ROOT / "slos")),
        lake=lake_location(),
        out=Path(os.environ.get("SLO_JOBS_OUT_DIR", _ROOT / "reports" / "out")),
    )


def lake_location() -> LakeDir:
    """``$SLO_JOBS_LAKE_URL`` (a folder or ``s3://bucket/prefix``), else the folder
    ``$SLO_JOBS_LAKE_DIR``. An object store's credentials come from the aws-type Connection
    ``$SLO_JOBS_LAKE_CONN_ID`` (default ``aws_default``: login = access key id, password =
    secret, extra ``endpoint_url``, ``region_name``, ``aws_session_token``), else from the
    AWS_* environment."""
    from slo_jobs.lake import location

    url = os.environ.get("SLO_JOBS_LAKE_URL")
    if not url:
        return location(os.environ.get("SLO_JOBS_LAKE_DIR", str(_ROOT / "lake")))
    return _store_location(url)


def publish_location() -> LakeDir | None:
    """``$SLO_JOBS_PUBLISH_URL`` (``s3://bucket/prefix``, or a folder), where the monthly DAG
    copies each month's report folder; None when unset. Credentials as the lake's."""
    url = os.environ.get("SLO_JOBS_PUBLISH_URL")
    return _store_location(url) if url else None


def _store_location(url: str) -> LakeDir:
    from slo_jobs.lake import SCHEME, ObjectStoreConfig, location

    if not url.startswith(SCHEME):
        return location(url)
    conn = _connection(os.environ.get("SLO_JOBS_LAKE_CONN_ID"), LAKE_CONN_ID)
    if conn is None:
        return location(url)
    return location(url, ObjectStoreConfig.from_connection(conn.login, conn.password,
                                                           conn.extra_dejson))


def _connection(conn_id: str | None, default: str) -> Any:
    """The Connection ``conn_id`` (or ``default``); None when the default one is not defined
    (the caller then reads the environment). A connection an SLO names must exist."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        return Connection.get(conn_id or default)
    except (AirflowRuntimeError, AirflowNotFoundException):  # as the task API or a backend says
        if conn_id and conn_id != default:
            raise
        return None


def _endpoint(kind: type[E], conn_id: str | None, default: str) -> E:
    """``kind`` from the Connection ``conn_id`` (or ``default``), else from the environment."""
    conn = _connection(conn_id, default)
    if conn is None:
        return kind.from_env()
    return kind.from_connection(conn.conn_type, conn.host, conn.port, conn.schema, conn.login,
                                conn.password, conn.extra_dejson, conn_id=conn.conn_id)


def prometheus_config(conn_id: str | None = None) -> PrometheusConfig:
    """The Airflow Connection (default ``prometheus_default``), else ``$SLO_JOBS_PROMETHEUS_URL``.

    An SLO may name another connection with the label ``prometheus_conn_id``.
    """
    from slo_jobs.sources.endpoint import PrometheusConfig

    return _endpoint(PrometheusConfig, conn_id, PROMETHEUS_CONN_ID)


def airflow_config(conn_id: str | None = None) -> AirflowConfig:
    """The Airflow API server pipeline SLOs read runs from: Connection ``airflow_api``
    (host, login/password or extra ``token``), else ``$SLO_JOBS_AIRFLOW_URL``.

    An SLO may name another connection with the label ``airflow_conn_id``.
    """
    from slo_jobs.sources.endpoint import AirflowConfig

    return _endpoint(AirflowConfig, conn_id, AIRFLOW_CONN_ID)


def send_email(message: dict[str, Any], context: Any) -> None:
    """One email (``to``, ``subject``, ``html``, ``files``: paths to attach) through Airflow's
    SMTP notifier and the Connection ``$SLO_JOBS_SMTP_CONN_ID`` (default ``smtp_default``:
    host, port, login/password, extra ``from_email``, ``disable_ssl``, ``disable_tls``).
    The sender is ``$SLO_JOBS_MAIL_FROM``, else the Connection's ``from_email``. Called from a
    delivery task, so a failed send fails the task and Airflow retries it."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    # notify() itself, not the notifier's __call__: the message is ours, already escaped, and
    # must not be rendered as a Jinja template.
    SmtpNotifier(to=message["to"], subject=message["subject"], html_content=message["html"],
                 files=[str(f) for f in message.get("files") or []] or None,
                 from_email=os.environ.get("SLO_JOBS_MAIL_FROM") or None,
                 smtp_conn_id=os.environ.get("SLO_JOBS_SMTP_CONN_ID", SMTP_CONN_ID),
                 ).notify(context)


def send_chat(text: str, context: Any) -> None:
    """One chat message through Airflow's Slack webhook notifier and the Connection
    ``$SLO_JOBS_CHAT_CONN_ID`` (default ``slack_default``, type ``slackwebhook``: the webhook
    URL's host and path in host, its token in password). A refused post fails the task."""
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    SlackWebhookNotifier(slack_webhook_conn_id=os.environ.get("SLO_JOBS_CHAT_CONN_ID",
                                                              CHAT_CONN_ID),
                         text=text).notify(context)


def senders(context: Any) -> tuple[Callable[[dict[str, Any]], None] | None,
                                   Callable[[str], None] | None]:
    """(send an email, send a chat message) bound to the task's ``context``; None for each
    whose Connection (``$SLO_JOBS_SMTP_CONN_ID``, ``$SLO_JOBS_CHAT_CONN_ID``) is not
    defined, so a deployment without one still runs (a Connection named in the environment
    must exist). Their passwords are masked in whatever the task shows or sends."""
    from slo_jobs.core import redaction

    smtp = _connection(os.environ.get("SLO_JOBS_SMTP_CONN_ID"), SMTP_CONN_ID)
    chat = _connection(os.environ.get("SLO_JOBS_CHAT_CONN_ID"), CHAT_CONN_ID)
    redaction.register(*(c.password for c in (smtp, chat) if c is not None))
    for channel, conn, conn_id in (("email", smtp, SMTP_CONN_ID), ("chat", chat, CHAT_CONN_ID)):
        if conn is None:
            log.info("%s: skipped, no Connection %s (define it to deliver this channel)",
                     channel, conn_id)
    return (None if smtp is None else lambda message: send_email(message, context),
            None if chat is None else lambda text: send_chat(text, context))


# Data-aware scheduling: slo_extract updates SLI_DAYS once per complete day (the event's
# extra names the day), slo_monthly_report updates MONTHLY_REPORT once per published month.
SLI_DAYS = Asset(name="slo_sli_days", uri="slo-jobs://lake/sli")
MONTHLY_REPORT = Asset(name="slo_monthly_report", uri="slo-jobs://reports/monthly")
