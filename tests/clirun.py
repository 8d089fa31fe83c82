"""The ``slo-jobs`` command run in this process (its real entry, ``cli.main``)."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from slo_jobs import cli


def slo_jobs(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``slo-jobs ARGS``."""
    capsys.readouterr()
    argv, sys.argv = sys.argv, ["slo-jobs", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out, out.err


def slo_jobs_outside(*args: str) -> tuple[int, str, str]:
    """``slo_jobs`` for a fixture wider than a test (no ``capsys`` there)."""
    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["slo-jobs", *args]
    try:
        with redirect_stdout(out), redirect_stderr(err):
            cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()
