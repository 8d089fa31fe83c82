"""One HTTP endpoint config for every service slo-jobs calls: Prometheus (or
VictoriaMetrics, Thanos, Mimir) and the Airflow REST API.

Secrets never appear in ``repr``; credentials written into the URL (``user:password@``)
move to ``username``/``password`` so the URL can be shown. Each service's settings come from
the environment (``SLO_JOBS_<SERVICE>_URL``, ``_TOKEN``, ``_USERNAME``, ``_PASSWORD``,
``_CA_BUNDLE``, ``_CLIENT_CERT``, ``_CLIENT_KEY``) or from an Airflow Connection's parts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Self

from ..core import redaction
from ..core.errors import ExtractError


def connection_url(host: str, port: int | None, schema: str | None,
                   scheme: str = "http") -> str:
    """The base URL of an Airflow Connection's parts (host may carry its scheme)."""
    base = host if "://" in host else f"{scheme}://{host}"
    if port:
        base = f"{base.rstrip('/')}:{port}"
    if schema:
        base = f"{base.rstrip('/')}/{schema.strip('/')}"
    return base.rstrip("/")


def check_credential(value: str | None, where: str, token: bool) -> None:
    """Refuse, in one line naming ``where`` and never the value, a credential HTTP cannot
    carry: a line break (a token read from a file with its newline), another control
    character, or a non-ASCII one (headers are ASCII, and servers disagree on how basic
    auth encodes anything else); a bearer token holds no space either."""
    if not value:
        return
    if "\n" in value or "\r" in value:
        at = "ends with" if value.rstrip("\r\n") != value else "contains"
        problem = f"{at} a line break"
    elif any(ord(c) < 32 or ord(c) == 127 for c in value):
        problem = "contains a control character"
    elif not value.isascii():
        problem = "contains a non-ASCII character"
    elif token and " " in value:
        problem = "contains a space"
    else:
        return
    raise ExtractError(f"{where}: {problem}; expected printable ASCII on one line"
                       f"{' without spaces' if token else ''} (the value is not shown)")


@dataclass(frozen=True)
class Endpoint:
    """Where a service is and how to reach it.

    ``max_retry_s`` bounds the time one request may take, retries and waits included;
    ``timeout_s`` bounds one attempt, from connecting to the answer's last byte.
    ``ca_bundle``, ``client_cert`` and ``client_key`` are file paths (PEM).
    """

    # The service's name in SLO_JOBS_<ENV>_..., in messages, and the one-line errors of a
    # missing URL.
    ENV: ClassVar[str] = ""
    SERVICE: ClassVar[str] = ""
    MISSING_URL: ClassVar[str] = ""
    EMPTY_HOST: ClassVar[str] = ""

    url: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    attempts: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_s: float = 300.0
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    def __post_init__(self) -> None:
        redaction.take_url_credentials(self)
        for name in ("token", "username", "password"):
            check_credential(getattr(self, name), f"{self.SERVICE} {name}", name == "token")

    @classmethod
    def from_env(cls, url: str | None = None) -> Self:
        """``url`` (e.g. a CLI option) or ``SLO_JOBS_<ENV>_URL``, with the other settings
        from the environment."""
        def env(name: str) -> str | None:
            return os.environ.get(f"SLO_JOBS_{cls.ENV}_{name}") or None

        resolved = url or env("URL")
        if not resolved:
            raise ExtractError(cls.MISSING_URL)
        for name in ("TOKEN", "USERNAME", "PASSWORD"):
            check_credential(env(name), f"SLO_JOBS_{cls.ENV}_{name}", name == "TOKEN")
        return cls(url=resolved.rstrip("/"), token=env("TOKEN"), username=env("USERNAME"),
                   password=env("PASSWORD"), ca_bundle=env("CA_BUNDLE"),
                   client_cert=env("CLIENT_CERT"), client_key=env("CLIENT_KEY"))

    @classmethod
    def from_connection(cls, conn_type: str | None, host: str | None, port: int | None,
                        schema: str | None, login: str | None, password: str | None,
                        extra: dict[str, Any] | None = None,
                        conn_id: str | None = None) -> Self:
        """Build from the parts of an Airflow Connection (``conn_id`` names it in errors).

        ``extra`` may hold ``token`` (bearer), ``ca_bundle``, ``client_cert`` and
        ``client_key`` (file paths); login/password give basic auth (Prometheus) or are
        exchanged for a token (Airflow).
        """
        if not host:
            raise ExtractError(cls.EMPTY_HOST)
        scheme = "https" if (conn_type or "").lower() == "https" else "http"
        extra = extra or {}

        def opt(key: str) -> str | None:
            value = extra.get(key)
            return str(value) if value else None

        where = f"{cls.SERVICE} connection" + (f" {conn_id!r}" if conn_id else "")
        check_credential(opt("token"), f"{where}: extra token", True)
        check_credential(login, f"{where}: login", False)
        check_credential(password, f"{where}: password", False)
        return cls(url=connection_url(host, port, schema, scheme), token=opt("token"),
                   username=login or None, password=password or None,
                   ca_bundle=opt("ca_bundle"), client_cert=opt("client_cert"),
                   client_key=opt("client_key"))


@dataclass(frozen=True)
class PrometheusConfig(Endpoint):
    """Prometheus' HTTP API, or any that answers the same (VictoriaMetrics, Thanos, Mimir)."""

    ENV = "PROMETHEUS"
    SERVICE = "Prometheus"
    MISSING_URL = ("Prometheus URL: not set; expected --prometheus-url or "
                   "SLO_JOBS_PROMETHEUS_URL, e.g. http://127.0.0.1:9090")
    EMPTY_HOST = ("Prometheus connection: host is empty; expected e.g. "
                  "AIRFLOW_CONN_PROMETHEUS_DEFAULT='http://127.0.0.1:9090'")
    READ_PATHS: ClassVar[tuple[str, ...]] = ("auto", "remote-read", "export", "query")

    # How raw samples are read (sources/prometheus/rawpath.py): auto probes the source.
    read: str = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.read not in self.READ_PATHS:
            raise ExtractError(f"Prometheus read path: found {self.read!r}; expected one of "
                               f"{', '.join(self.READ_PATHS)} (SLO_JOBS_PROMETHEUS_READ or "
                               "read in the connection's extra)")

    @classmethod
    def from_env(cls, url: str | None = None) -> Self:
        config = super().from_env(url)
        read = os.environ.get("SLO_JOBS_PROMETHEUS_READ")
        return config._reading(read) if read else config

    @classmethod
    def from_connection(cls, conn_type: str | None, host: str | None, port: int | None,
                        schema: str | None, login: str | None, password: str | None,
                        extra: dict[str, Any] | None = None,
                        conn_id: str | None = None) -> Self:
        config = super().from_connection(conn_type, host, port, schema, login, password,
                                         extra, conn_id)
        read = (extra or {}).get("read")
        return config._reading(str(read)) if read else config

    def _reading(self, read: str) -> Self:
        return replace(self, read=read.strip().lower())


AIRFLOW_CONN_ID = "airflow_api"


class AirflowConfig(Endpoint):
    """The Airflow REST API v2. A bearer ``token`` is used as is; ``username``/``password``
    are exchanged for one at ``POST /auth/token``; with neither, requests go
    unauthenticated."""

    ENV = "AIRFLOW"
    SERVICE = "Airflow API"
    MISSING_URL = (f"Airflow API URL: not set; expected the Airflow connection "
                   f"{AIRFLOW_CONN_ID!r} or SLO_JOBS_AIRFLOW_URL, e.g. http://127.0.0.1:8080")
    EMPTY_HOST = (f"Airflow connection {AIRFLOW_CONN_ID!r}: host is empty; "
                  "expected e.g. http://127.0.0.1:8080")
