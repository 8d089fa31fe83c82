"""Locate the SQL files and report templates, installed or in a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent  # the slo_jobs folder


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(f"none of {', '.join(map(str, candidates))} exists")


@cache
def sql_dir() -> Path:
    # In a wheel the folder is force-included as slo_jobs/sql; in a checkout it is ../sql.
    return _first_existing(_PKG / "sql", _PKG.parent / "sql")


@cache
def templates_dir() -> Path:
    return _first_existing(_PKG / "templates", _PKG.parent / "reports" / "templates")


def sql(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (sql_dir() / f"{name}.sql").read_text()
