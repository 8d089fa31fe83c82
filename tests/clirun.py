"""The ``slo-jobs`` command run in this process (its real entry, ``cli.main``)."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from slo_jobs import cli


def _exit_status(*args: str) -> int:
    """Run ``slo-jobs ARGS`` in this process; its exit status."""
    argv, sys.argv = sys.argv, ["slo-jobs", *args]
    try:
        cli.main()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv


def slo_jobs(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``slo-jobs ARGS``."""
    capsys.readouterr()
    code = _exit_status(*args)
    out = capsys.readouterr()
    return code, out.out, out.err


def slo_jobs_outside(*args: str) -> tuple[int, str, str]:
    """``slo_jobs`` for a fixture wider than a test (no ``capsys`` there)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = _exit_status(*args)
    return code, out.getvalue(), err.getvalue()
