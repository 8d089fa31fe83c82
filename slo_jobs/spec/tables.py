"""The parts of an SLO definition that describe a data pipeline's own sources.

A pipeline SLI need not come from Prometheus: run records come from the Airflow REST API
(or an export of them), load times and row counts from a table DuckDB can read.  These
models are the YAML shapes; :class:`PipelineSource` is what the pipeline stages see.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from . import io

# Column names are spliced into SQL as quoted identifiers, so only plain names pass.
IDENTIFIER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
# Folders besides an SLO file's own where its table sources may live (os.pathsep-separated).
DATA_DIRS_ENV = "SLO_JOBS_DATA_DIRS"
_WILDCARD = re.compile(r"[*?\[]")
# Airflow's own rule for DAG ids (its KEY_REGEX, ^[\w.-]+$, and at most 250 characters).
DAG_ID = re.compile(r"\A[\w.-]{1,250}\Z")


def check_dag_id(value: str) -> str:
    """``value`` when Airflow would take it as a DAG id; ValueError if not.

    ``.`` and ``..`` pass Airflow's rule but, as a segment of a REST API path, would walk
    out of ``/api/v2/dags/<dag>/``: refused too.
    """
    if not DAG_ID.match(value) or value in (".", ".."):
        raise ValueError("expected an Airflow DAG id: letters, digits, '_', '.', '-' "
                         "(at most 250), and not '.' or '..'")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError("expected a column name: letters, digits and underscores, "
                         "not starting with a digit")
    return value


def optional_duration(value: str | None) -> str | None:
    if value is not None:
        io.duration(value)
    return value


class TableSource(_Strict):
    """Rows DuckDB reads: Parquet or CSV ``files`` (a path or glob), or a DuckDB ``table``.

    Relative paths are relative to the YAML file that defines the SLO.
    """

    files: str | None = None
    database: str | None = None
    table: str | None = None

    @field_validator("table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        return None if value is None else identifier(value)

    @field_validator("files")
    @classmethod
    def _files(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().rstrip("*").endswith(
                (".parquet", ".csv", "/")):
            raise ValueError("expected Parquet or CSV files, e.g. data/loads/*.parquet")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> TableSource:
        if (self.files is None) == (self.database is None and self.table is None) or (
                (self.database is None) != (self.table is None)):
            raise ValueError("expected 'files' (Parquet or CSV) or 'database' and 'table' "
                             "(a DuckDB file and a table in it)")
        return self


class Completion(_Strict):
    """Each run of ``dag`` is good iff it succeeded within ``within`` of its interval's end."""

    dag: str
    within: str
    # The DAG's schedule period: an interval without a run then counts as a bad run.
    expectEvery: str | None = None
    # Run records exported from Airflow; without it they come from the Airflow REST API.
    runs: TableSource | None = None

    @field_validator("dag")
    @classmethod
    def _dag(cls, value: str) -> str:
        return check_dag_id(value)

    _within = field_validator("within")(optional_duration)
    _every = field_validator("expectEvery")(optional_duration)


class CompletenessColumns(_Strict):
    at: str
    processed: str
    expected: str

    _names = field_validator("at", "processed", "expected")(identifier)


def _outside(real: Path, roots: list[Path]) -> str | None:
    if any(real == root or real.is_relative_to(root) for root in roots):
        return None
    return (f"resolves to {real}, outside {', '.join(map(str, roots))}; expected a path "
            f"inside the SLO file's folder (or a folder listed in {DATA_DIRS_ENV})")


@dataclass(frozen=True)
class TableRef:
    files: Path | None = None
    database: Path | None = None
    table: str | None = None
    written: str = ""  # as the spec wrote it: the spec hash must not depend on the checkout
    spec_file: str = ""

    @classmethod
    def of(cls, src: TableSource, spec_file: str) -> TableRef:
        base = Path(spec_file).parent

        def near(p: str) -> Path:
            path = Path(p).expanduser()
            return path if path.is_absolute() else base / path

        return cls(files=near(src.files) if src.files else None,
                   database=near(src.database) if src.database else None, table=src.table,
                   written=src.files or f"{src.database}:{src.table}", spec_file=spec_file)

    def describe(self) -> str:
        return str(self.files) if self.files else f"{self.database} table {self.table}"

    def roots(self) -> list[Path]:
        """Where this source may read: its SLO file's folder and SLO_JOBS_DATA_DIRS."""
        extra = [Path(p).expanduser().resolve()
                 for p in os.environ.get(DATA_DIRS_ENV, "").split(os.pathsep) if p]
        return [Path(self.spec_file).parent.resolve(), *extra]

    def outside(self) -> str | None:
        """Why the source lies outside its roots (after resolving '..' and symlinks), or None.

        For a glob, the folder before the first wildcard is checked here; each file it
        matches is checked again when read (:meth:`matched_files`).
        """
        path = self.files if self.files is not None else self.database
        assert path is not None
        fixed = Path(_WILDCARD.split(str(path), maxsplit=1)[0] or "/")
        return _outside(fixed.resolve(), self.roots())

    def matched_files(self) -> list[Path]:
        """The regular files ``files`` names, resolved, each inside the roots.

        The glob is expanded here, not by DuckDB, so no file outside the roots (through a
        symlink, a '..' or a pattern) is ever handed to it.  Raises ValueError.
        """
        assert self.files is not None
        pattern = str(self.files)
        if pattern.endswith("/"):
            pattern += "**/*.parquet"  # a folder: its Parquet files, as DuckDB reads one
        names = sorted(glob.glob(pattern, recursive=True))
        if not names:
            raise ValueError(f"no file matches {self.files}")
        roots = self.roots()
        out = []
        for name in names:
            real = Path(name).resolve()
            problem = _outside(real, roots)
            if problem is not None:
                raise ValueError(f"{name}: {problem}")
            if real.is_file():
                out.append(real)
        return out


@dataclass(frozen=True)
class PipelineSource:
    """Where a pipeline SLI is read from when it is not Prometheus."""

    kind: Literal["freshness", "completion", "completeness"]
    table: TableRef | None = None
    loaded_at: str | None = None
    at: str | None = None
    processed: str | None = None
    expected: str | None = None
    dag: str | None = None
    within: timedelta | None = None
    expect_every: timedelta | None = None
    max_age: timedelta | None = None

    @property
    def within_s(self) -> int:
        return 0 if self.within is None else int(self.within.total_seconds())

    @property
    def expect_every_s(self) -> int | None:
        return None if self.expect_every is None else int(self.expect_every.total_seconds())

    def key(self) -> list[str]:
        """What identifies the source in the spec hash."""
        t = self.table
        return [self.kind, t.written if t else "airflow-api", str(self.loaded_at),
                str(self.at), str(self.processed), str(self.expected), str(self.dag),
                str(self.within), str(self.expect_every), str(self.max_age)]
