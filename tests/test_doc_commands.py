"""Every command shown in the README and docs/ still works.

Each line of a fenced shell block (```sh, ```bash, ```console, ```shell) of README.md and
docs/*.md is one command (a trailing backslash continues it). `slo-jobs ...` commands run for
real, in the order a reader would run them, in a folder holding a copy of slos/, against the
suite's Prometheus serving the demo history (whose last closed month is 2026-09) in place of
the documented http://127.0.0.1:9090. `make TARGET` must name a Makefile target, `python
SCRIPT` a file of the repository and `python -m MODULE` a module that imports. Anything else
(Airflow, docker compose, promtool, ...) needs a real service or host: it must be listed in
EXERCISED_BY with the test that runs it, and that test must exist.
"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clirun import slo_jobs
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"sh", "bash", "console", "shell"}
DOCUMENTED_URL = "http://127.0.0.1:9090"
SLO_JOBS = {"slo-jobs", ".venv/bin/slo-jobs"}
PYTHON = {"python", "python3", ".venv/bin/python"}

# The order a reader runs the subcommands in: definitions first, then a month into the lake,
# then what reads the lake; `discover` and `init` last, as they add SLO files to slos/.
ORDER = ["validate", "check", "run", "extract", "compute", "backfill", "report", "show",
         "whatif", "review", "summary-page", "rules", "dashboard", "export-openslo", "discover",
         "init"]

# Commands that need a service or a host this test does not start, by their first words
# (the longest prefix of the command that matches wins), and the test that runs each of them.
BACKFILL = "tests/test_airflow_backfill.py::test_airflow_backfill_of_three_months"
CELERY = "tests/test_airflow_celery.py::test_celery_executor_runs_the_dags_like_dag_test"
EXERCISED_BY = {
    "export": BACKFILL,
    "export AIRFLOW__CORE__EXECUTOR": CELERY,
    "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": CELERY,
    "export AIRFLOW__CELERY": CELERY,
    "airflow db migrate": BACKFILL,
    "airflow pools set": BACKFILL,
    "airflow dags reserialize": BACKFILL,
    "airflow dags unpause": BACKFILL,
    "airflow standalone": BACKFILL,
    "airflow backfill create": BACKFILL,
    "airflow api-server": CELERY,
    "airflow scheduler": CELERY,
    "airflow celery worker": CELERY,
    "docker compose": "tests/test_compose.py::test_airflow_components_postgres_and_prometheus",
    "promtool check rules":
        "tests/test_rules_promtool.py::test_promtool_checks_rules_of_every_example_spec",
    "victoria-metrics":
        "tests/realdata/test_extract_real.py::test_cli_month_from_victoriametrics_equals_truth",
}


@dataclass(frozen=True)
class Command:
    where: str  # file:line
    text: str

    @property
    def words(self) -> list[str]:
        """The command's words, without leading VAR=value assignments."""
        words = shlex.split(self.text, comments=True)
        while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
            words.pop(0)
        return words


def documented_commands() -> list[Command]:
    found = []
    for doc in DOCS:
        name = doc.relative_to(ROOT)
        block: str | None = None
        pending, start = "", 0
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            fence = re.match(r"\s*```(\w*)", line)
            if fence:
                block = None if block is not None else fence.group(1)
                continue
            if block not in SHELL_BLOCKS or not line.strip():
                continue
            if block == "console":
                if not (line.startswith("$ ") or pending):
                    continue  # output
                line = line.removeprefix("$ ")
            if not pending:
                start = number
            pending += line.strip()
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            if shlex.split(pending, comments=True):
                found.append(Command(f"{name}:{start}", pending))
            pending = ""
    return found


COMMANDS = documented_commands()


def _kind(command: Command) -> str:
    first = command.words[0]
    if first in SLO_JOBS:
        return "slo-jobs"
    if first == "make":
        return "make"
    if first in PYTHON:
        return "python"
    return "elsewhere"


def _of(kind: str) -> list[Command]:
    return [c for c in COMMANDS if _kind(c) == kind]


def test_the_docs_show_commands_of_every_kind() -> None:
    # If the block parser broke, every test below would pass on nothing.
    assert {_kind(c) for c in COMMANDS} == {"slo-jobs", "make", "python", "elsewhere"}
    assert any(c.words[:2] == ["slo-jobs", "run"] and c.where.startswith("README.md")
               for c in COMMANDS)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs-workspace")
    shutil.copytree(ROOT / "slos", folder / "slos")
    return folder


def test_every_slo_jobs_command_runs(prometheus: str, workspace: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Run once each, in ORDER, against the demo history; each must exit 0."""
    unique = list({c.text: c for c in _of("slo-jobs")}.values())
    unknown = {c.words[1] for c in unique} - set(ORDER)
    assert not unknown, f"add {unknown} to ORDER in this test"
    unique.sort(key=lambda c: ORDER.index(c.words[1]))
    monkeypatch.chdir(workspace)
    failed = []
    for command in unique:
        text = shlex.split(command.text, comments=True)
        with monkeypatch.context() as env:
            while re.fullmatch(r"[A-Za-z_]\w*=.*", text[0]):
                name, _, value = text.pop(0).partition("=")
                env.setenv(name, value.replace(DOCUMENTED_URL, prometheus))
            args = [w.replace(DOCUMENTED_URL, prometheus) for w in text[1:]]
            code, out, err = slo_jobs(capsys, *args)
        if code != 0:
            failed.append(f"{command.where}: {command.text}\nexit {code}\n{out}{err}")
    assert not failed, "\n\n".join(failed)


def _make_targets() -> set[str]:
    return set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("command", _of("make"), ids=lambda c: c.text)
def test_make_commands_name_a_target(command: Command) -> None:
    targets = command.words[1:]
    assert targets and set(targets) <= _make_targets(), f"{command.where}: {command.text}"


@pytest.mark.parametrize("command", _of("python"), ids=lambda c: c.text)
def test_python_commands_name_a_script_or_a_module(command: Command) -> None:
    words = command.words
    if words[1] == "-m":
        importlib.import_module(words[2])
    else:
        assert (ROOT / words[1]).is_file(), f"{command.where}: no file {words[1]}"


def _exercised_by(command: Command) -> str | None:
    text = " ".join(command.words)
    matches = [prefix for prefix in EXERCISED_BY if text.startswith(prefix)]
    return EXERCISED_BY[max(matches, key=len)] if matches else None


@pytest.mark.parametrize("command", _of("elsewhere"), ids=lambda c: c.text)
def test_other_commands_are_run_by_a_named_test(command: Command) -> None:
    assert _exercised_by(command), \
        f"{command.where}: {command.text!r}: add its first words to EXERCISED_BY with the " \
        "test that runs it, or take it out of the shell block"


def _test_exists(node: str) -> bool:
    file, _, name = node.partition("::")
    path = ROOT / file
    if not path.is_file():
        return False
    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)


@pytest.mark.parametrize("node", sorted(set(EXERCISED_BY.values())))
def test_the_named_tests_exist(node: str) -> None:
    assert _test_exists(node), node


def test_every_entry_of_the_table_is_still_shown() -> None:
    shown = {" ".join(c.words) for c in _of("elsewhere")}
    unused = [p for p in EXERCISED_BY if not any(s.startswith(p) for s in shown)]
    assert not unused, f"no documented command starts with {unused}: drop them from EXERCISED_BY"
