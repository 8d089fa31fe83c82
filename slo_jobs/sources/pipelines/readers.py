"""Reading pipeline facts: DAG runs from the Airflow REST API v2, rows from DuckDB tables.

Nothing here judges anything; :mod:`judge` does.  Column and table names were checked
in the spec and are quoted as identifiers; every value (paths, times, DAG ids) is bound.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import numpy.typing as npt

from ...core import periods, redaction, resources
from ...core.errors import ExtractError
from ...spec.tables import TableRef, check_dag_id
from ..endpoint import AirflowConfig, check_credential
from ..request import Requester, Retryable
from .judge import US, Run

PAGE = 100
_NOT_JSON = object()  # an answer whose body is not JSON
EPOCH = periods.EPOCH


def _us(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # Airflow and our exports store UTC
    return micros(value)


def micros(t: datetime) -> int:
    """Microseconds since the epoch, in integers: a float timestamp loses the last
    microseconds of a 2026 date.  Works for datetime subclasses (Airflow passes pendulum's)."""
    u = t.astimezone(UTC)
    return calendar.timegm(u.utctimetuple()) * US + u.microsecond


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / US, UTC).isoformat().replace("+00:00", "Z")


def _source_rows(con: duckdb.DuckDBPyConnection, ref: TableRef,
                 columns: dict[str, str]) -> None:
    """Register ``source_rows``: the source with its ``columns`` renamed (ours: spec's).

    Built with DuckDB's relation API, so no name from the spec is ever spliced into SQL;
    paths are plain arguments of the readers.
    """
    if ref.files is not None:
        files = [str(f) for f in ref.matched_files()]  # each resolved inside its roots
        rel = con.read_csv(files) if str(ref.files).lower().endswith(".csv") \
            else con.read_parquet(files)
    else:
        assert ref.database is not None and ref.table is not None
        problem = ref.outside()
        if problem is not None:
            raise ValueError(problem)
        con.execute("ATTACH $db AS src (READ_ONLY)", {"db": str(ref.database)})
        # The database is the user's, its views included: once attached, no query may touch
        # another file (a view over read_text('/etc/passwd')) or the network.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        rel = con.table(f"src.{ref.table}")  # a checked identifier, resolved as a name
    con.register("source_rows", rel.select(*[duckdb.ColumnExpression(theirs).alias(ours)
                                             for ours, theirs in columns.items()]))


def _query(ref: TableRef, sql_name: str, columns: dict[str, str], params: dict[str, Any],
           what: str) -> list[Any]:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        _source_rows(con, ref, columns)
        return con.execute(resources.sql(sql_name), params).fetchall()
    except (duckdb.Error, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ExtractError(f"{ref.describe()}: cannot read {what} ({reason})") from None
    finally:
        con.close()


def load_times(ref: TableRef, column: str, until_us: int) -> npt.NDArray[np.int64]:
    """Every distinct load time up to ``until_us``, in microseconds, sorted."""
    rows = _query(ref, "pipeline_load_times", {"loaded_at": column}, {"until": until_us},
                  f"load times (column {column})")
    return np.array([r[0] for r in rows], dtype=np.int64)


def completeness_rows(ref: TableRef, at: str, processed: str, expected: str,
                      start_us: int, end_us: int) -> list[tuple[int, float, float]]:
    """(at, processed, expected) of the rows with ``start < at <= end``."""
    rows = _query(ref, "pipeline_completeness",
                  {"event_at": at, "processed": processed, "expected": expected},
                  {"start": start_us, "end": end_us},
                  f"completeness rows (columns {at}, {processed}, {expected})")
    return [(int(r[0]), float(r[1]), float(r[2])) for r in rows]


RUN_COLUMNS = ("dag_id", "run_id", "data_interval_start", "data_interval_end", "start_date",
               "end_date", "state")


def exported_runs(ref: TableRef, dag: str, after_us: int, until_us: int) -> list[Run]:
    """Run records exported from Airflow (columns as the REST API names them)."""
    rows = _query(ref, "pipeline_runs", {c: c for c in RUN_COLUMNS},
                  {"dag": dag, "after": after_us, "until": until_us},
                  f"run records (columns {', '.join(RUN_COLUMNS)})")
    return [Run(*r) for r in rows]


class AirflowClient:
    """Lists DAG runs through ``GET /api/v2/dags/{dag_id}/dagRuns``, page by page, through
    the request core every service shares (TLS, client certificate, retries, deadline)."""

    def __init__(self, config: AirflowConfig) -> None:
        self.config = config
        self._http = Requester(config, {"Accept": "application/json"})
        self._token = config.token

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        if self._token is None and self.config.username:
            self._token = self._login()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _login(self) -> str:
        body = {"username": self.config.username, "password": self.config.password}
        response = self._send("POST", "/auth/token", {}, json=body)
        token = response.get("access_token")
        if not isinstance(token, str):
            raise ExtractError(f"Airflow API {self.config.url}/auth/token: no access_token in "
                               "the answer; expected a JSON object with access_token")
        check_credential(token, f"Airflow API {self.config.url}/auth/token: access_token", True)
        return token

    def _send(self, method: str, path: str, headers: dict[str, str],
              **kw: Any) -> dict[str, Any]:
        where = f"Airflow API {self.config.url}{path}"

        def once() -> tuple[int, Any]:
            r = self._http.attempt(method, path, headers=headers, **kw)
            try:
                return r.status_code, r.json()
            except ValueError:
                if r.status_code == 200:  # a cut connection or a proxy: worth another try
                    raise Retryable("HTTP 200 with a body that is not JSON (truncated?)"
                                    ) from None
                return r.status_code, _NOT_JSON

        status, data = self._http.call(once, f"{method} {path}")
        if status in (401, 403):
            raise ExtractError(f"{where}: HTTP {status}; expected credentials allowed "
                               "to read DAG runs (connection login/password or token)")
        if status == 404:
            raise ExtractError(f"{where}: HTTP 404; expected an existing DAG")
        if status >= 400:
            raise ExtractError(f"{where}: HTTP {status}; expected a success")
        if data is _NOT_JSON:
            raise ExtractError(f"{where}: the answer is not JSON; expected the Airflow "
                               "REST API v2")
        if not isinstance(data, dict):
            raise ExtractError(f"{where}: a JSON {type(data).__name__}; expected an object")
        return data

    def runs(self, dag: str, after_us: int, until_us: int) -> list[Run]:
        """Runs of ``dag`` whose logical date lies in ``(after, until]``."""
        try:
            check_dag_id(dag)
        except ValueError as exc:
            raise ExtractError(f"Airflow API {self.config.url}: DAG id {dag!r}: {exc}") from None
        # Quoted as one path segment: no character of the id can change the path.
        path = f"/api/v2/dags/{quote(dag, safe='')}/dagRuns"
        out: list[Run] = []
        offset = 0
        while True:
            page = self._send("GET", path, self._headers(), params={
                "limit": PAGE, "offset": offset, "order_by": "id",
                "logical_date_gt": _iso(after_us), "logical_date_lte": _iso(until_us)})
            items = page.get("dag_runs")
            try:
                if not isinstance(items, list):
                    raise TypeError("no dag_runs list")
                out.extend(_run(item) for item in items)
                total = int(page.get("total_entries", 0))
            except (TypeError, ValueError, AttributeError) as exc:
                # Redacted before it is shortened: no part of a secret may stay behind.
                reason = redaction.redact(str(exc), (self.config.token, self.config.password,
                                                     self._token))
                raise ExtractError(f"Airflow API {self.config.url}: dagRuns of {dag}: "
                                   f"{_short(reason)}; expected the Airflow REST API v2's "
                                   "dag_runs and total_entries") from None
            offset += len(items)
            if not items or offset >= total:
                return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:120] + "..."


def _parse(value: Any) -> int | None:
    if not value:
        return None
    return _us(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _run(item: dict[str, Any]) -> Run:
    return Run(run_id=str(item.get("dag_run_id") or item.get("run_id")),
               interval_start=_parse(item.get("data_interval_start")),
               interval_end=_parse(item.get("data_interval_end")),
               start=_parse(item.get("start_date")), end=_parse(item.get("end_date")),
               state=str(item.get("state")))
