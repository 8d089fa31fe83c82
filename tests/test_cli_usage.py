"""The CLI as a new user meets it: help, version, usage mistakes as one line, the same way of
naming SLO files and output files in every command, and a start that does not load the data
stack. No Prometheus needed: the SLOs here are the shipped pipeline SLOs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import ROOT


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_JOBS_")}
    return subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_bare_command_prints_the_help() -> None:
    proc = cli()
    assert proc.returncode == 0, proc.stderr
    assert "Usage: slo-jobs [OPTIONS] COMMAND" in proc.stdout and "validate" in proc.stdout
    assert "error" not in proc.stderr.lower()


@pytest.mark.parametrize(("args", "expected", "hint"), [
    (["valdate", "slos"], "No such command 'valdate'. Did you mean 'validate'?",
     "slo-jobs --help"),
    (["run"], "Missing option '--month'.", "slo-jobs run --help"),
    (["report", "--month", "2026-09", "--frmat", "pdf"], "No such option: --frmat",
     "slo-jobs report --help"),
    (["report"], "expected exactly one of --month, --quarter, --year; found none",
     "slo-jobs report --help"),
    (["report", "--quarter", "2026-Q3", "--service", "checkout"], "--service: only with --month",
     "slo-jobs report --help"),
])
def test_usage_mistakes_are_one_line(args: list[str], expected: str, hint: str) -> None:
    proc = cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0] and hint in lines[0] and lines[0].startswith("error: ")
    assert "unexpected" not in lines[0] and "Error" not in lines[0]


def test_version_and_short_help() -> None:
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"slo-jobs {version('slo-jobs')}"
    short, long = cli("run", "-h"), cli("run", "--help")
    assert short.returncode == long.returncode == 0 and short.stdout == long.stdout
    assert "Example: slo-jobs run --month 2026-09" in short.stdout


@pytest.mark.parametrize("command", ["run", "extract", "compute", "report", "backfill", "show",
                                     "validate", "init", "export-openslo", "rules",
                                     "dashboard"])
def test_help_shows_no_python_types(command: str) -> None:
    proc = cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"<[a-z]+\[|list\[|Path\]|<bool>", proc.stdout), proc.stdout
    assert "Example: slo-jobs " + command in proc.stdout


def test_starting_the_cli_loads_no_data_stack() -> None:
    """What made every command, --help included, take seconds to start."""
    code = ("import sys, slo_jobs.cli; print(' '.join(m for m in ('duckdb', 'pyarrow', 'pandas', "
            "'numpy', 'weasyprint', 'pydantic', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_validate_takes_paths_and_slos_and_reads_subfolders(tmp_path: Path) -> None:
    (tmp_path / "team-a" / "deep").mkdir(parents=True)
    shutil.copy(ROOT / "slos" / "checkout.yaml", tmp_path / "team-a" / "deep")
    shutil.copy(ROOT / "slos" / "search.yaml", tmp_path)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "junk.yaml").write_text("not: an slo\n")
    for args in (["validate", str(tmp_path)], ["validate", "--slos", str(tmp_path)]):
        proc = cli(*args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "ok: 4 SLOs in 2 files valid"


def test_a_folder_and_a_file_in_it_are_not_a_duplicate(tmp_path: Path) -> None:
    proc = cli("validate", "slos", "slos/checkout.yaml", "--slos", "./slos/search.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok: 18 SLOs and 2 journeys in 9 files valid"
    # the same SLOs in two different files still are duplicates, one line each
    shutil.copy(ROOT / "slos" / "checkout.yaml", tmp_path / "copy.yaml")
    twice = cli("validate", "slos/checkout.yaml", str(tmp_path / "copy.yaml"))
    assert twice.returncode == 1
    assert [line.split(": ")[1] for line in twice.stderr.splitlines()] == ["metadata.name"] * 2


def test_init_takes_the_tier_as_written_in_the_docs(tmp_path: Path) -> None:
    proc = cli("init", "--template", "api", "--tier", "best-effort", "--service", "shop",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "slos" / "shop.yaml"
    assert "tier: best_effort" in written.read_text()
    assert proc.stdout.strip() == "wrote slos/shop.yaml"
    assert cli("validate", str(written)).returncode == 0
    bad = cli("init", "--template", "api", "--tier", "gold", "--service", "x", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("error: --tier: 'gold'; expected one of critical, essential, "
                                  "standard, best-effort")


def _files(stdout: str) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in stdout.splitlines()
                if re.match(r"^\S+\.(html|pdf|json|csv)\s", line))


def test_run_report_and_show_print_output_files_the_same_way(tmp_path: Path) -> None:
    shutil.copy(ROOT / "slos" / "pipelines.yaml", tmp_path)
    shutil.copytree(ROOT / "slos" / "pipeline-data", tmp_path / "pipeline-data")
    run = cli("run", "--month", "2026-09", "--slos", "pipelines.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = cli("report", "--month", "2026-09", "--format", "html,json", cwd=tmp_path)
    show = cli("show", "--month", "2026-09", cwd=tmp_path)
    out = (tmp_path / "reports" / "out" / "2026-09").resolve()
    ran, rendered, shown = _files(run.stdout), _files(report.stdout), _files(show.stdout)
    assert ran["report.html"] == rendered["report.html"] == shown["report.html"] == \
        str(out / "report.html")
    assert ran["report.pdf"] == shown["report.pdf"] == str(out / "report.pdf")
    assert "report.pdf" not in rendered  # --format html,json
    assert ran["index.html"] == rendered["index.html"] == str(out.parent / "index.html")


def _modules_after(args: list[str], cwd: Path) -> tuple[str, set[str]]:
    """(stdout, which of the data stack's libraries) one command loaded, in a new process."""
    code = ("import io, sys, contextlib\nfrom slo_jobs import cli\nsys.argv = ['slo-jobs', "
            f"*{args!r}]\nout = io.StringIO()\nwith contextlib.redirect_stdout(out):\n"
            "    try:\n        cli.main()\n    except SystemExit:\n        pass\n"
            "print(out.getvalue(), end='')\nprint(' '.join(m for m in ('duckdb', 'pandas', "
            "'pyarrow', 'pyarrow.dataset', 'weasyprint', 'httpx', 'yaml') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    *shown, loaded = proc.stdout.splitlines()
    return "\n".join(shown), set(loaded.split())


@pytest.mark.parametrize("args", [["run", "--month", "2026-9"],
                                  ["compute", "--month", "2026-09", "--as-of", "soon"],
                                  ["report", "--month", "13"],
                                  ["report", "--quarter", "2026-Q5"],
                                  ["report", "--year", "26"]])
def test_a_mistyped_argument_is_answered_before_the_data_stack_loads(args: list[str]) -> None:
    # The answer time of a usage mistake is measured by bench/cli.py; here, what it loads.
    proc = cli(*args)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")
    assert _modules_after(args, ROOT)[1] == set()


def test_show_reads_the_summary_without_the_engine(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from slo_jobs.compute import SloParams, compute_window, write_result
    from slo_jobs.core import periods
    from slo_jobs.report import text as report_text
    from tests.lakeutil import write_buckets

    period = periods.month("2026-11")
    slos = [SloParams(f"slo-{i}", "svc", "Requests served.", "h", 0.999) for i in range(3)]
    for i, s in enumerate(slos):
        write_buckets(tmp_path / "lake", s.name, period.start.replace(day=2 + i, hour=7),
                      [(997.0 + i, 1000.0)] * 300)
    write_result(tmp_path / "lake", compute_window(tmp_path / "lake", slos, period))
    shown, loaded = _modules_after(["show", "--month", "2026-11"], tmp_path)
    assert loaded == {"pyarrow"}
    written = pq.read_table(tmp_path / "lake" / "monthly" / "month=2026-11" / "summary.parquet")
    assert shown.startswith(report_text.table(written.to_pylist()) + "\n")
