"""Security: credentials come from the environment or the Airflow Connection and leak nowhere.

The whole pipeline runs with a bearer token behind a server that demands it; then every line
it printed, every file it wrote (lake Parquet with its metadata, HTML, PDF, JSON, CSV) and the
error of a failing run are searched for the token: zero hits.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slo_jobs import rules, spec
from slo_jobs.core import redaction
from slo_jobs.core.errors import ExtractError, SloJobsError
from slo_jobs.sources.prometheus import PrometheusClient, PrometheusConfig, extract_slo
from slo_jobs.spec import catalog
from tests.conftest import ROOT
from tests.faults.conftest import DAY
from tests.faults.faultserver import FORWARD, FaultServer, Reply

# The instant the rules and dashboards are written for (the CLI's --at).
AT = datetime(2026, 10, 1, tzinfo=UTC)


def test_whole_pipeline_with_a_token_leaks_it_nowhere(prometheus: str, tmp_path: Path) -> None:
    token = "tok-" + secrets.token_hex(16)
    with FaultServer(prometheus, lambda n, p: Reply(503, b"warming up") if n == 1
                     else FORWARD) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09", "--slos",
             str(ROOT / "slos" / "checkout.yaml"), "--prometheus-url", server.url,
             "--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
            env={**os.environ, "SLO_JOBS_PROMETHEUS_TOKEN": token})
    assert proc.returncode == 0, proc.stderr
    # The token was really used, on every request.
    assert server.seen and all(s.headers.get("Authorization") == f"Bearer {token}"
                               for s in server.seen)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".parquet", ".html", ".pdf", ".json"} <= kinds, kinds
    assert token not in proc.stdout + proc.stderr
    for path in files:
        assert token.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("status", [401, 403, 422, 503])
def test_credentials_echoed_by_the_server_are_redacted(status: int, prometheus: str,
                                                       slo: spec.Slo, tmp_path: Path) -> None:
    token, password = "tok-" + secrets.token_hex(8), "pw-" + secrets.token_hex(8)

    def echo(n: int, _: dict[str, str]) -> Reply:
        # Echo what the client sent, decoded where it is basic auth.
        seen = server.seen[-1].headers.get("Authorization", "")
        if seen.startswith("Basic "):
            seen += " " + base64.b64decode(seen[6:]).decode()
        body = f'{{"status":"error","errorType":"auth","error":"bad {seen}"}}'
        return Reply(status, body.encode() if status == 422 else f"denied: {seen}".encode())

    for creds in ({"token": token}, {"username": "reader", "password": password}):
        with FaultServer(prometheus, echo) as server:
            cfg = PrometheusConfig(server.url, attempts=2, backoff_s=0.01, **creds)
            with PrometheusClient(cfg) as client, pytest.raises(ExtractError) as err:
                extract_slo(client, slo, [DAY], tmp_path)
        basic = base64.b64encode(f"reader:{password}".encode()).decode()
        message = str(err.value)
        assert token not in message and password not in message and basic not in message
        assert status == 503 or "***" in message  # the echo was there, and was redacted
        assert token not in repr(cfg) and password not in repr(cfg)


SPEC = """apiVersion: slo-jobs/v1
kind: ServiceLevelObjective
metadata: {name: checkout-availability}
spec:
  service: checkout
  description: "DESCRIPTION"
  indicator:
    ratio:
      bad: {selector: 'http_requests_total{service="checkout",code=~"5.."}'}
      total: {expr: 'EXPR'}
  objective: {target: 0.999}
"""
TOTAL = 'sum(increase(http_requests_total{service="checkout"}[{{.window}}]))'


def _spec(tmp_path: Path, description: str, expr: str = TOTAL) -> Path:
    path = tmp_path / "slos" / "checkout.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(SPEC.replace("DESCRIPTION", description).replace("EXPR", expr))
    return path


@pytest.mark.parametrize(("description", "expr", "field", "found"), [
    ("token=${SLO_JOBS_PROMETHEUS_TOKEN}", TOTAL, "spec.description",
     "names a secret variable"),
    ("ok", TOTAL.replace("checkout", "${SLO_JOBS_PROMETHEUS_PASSWORD}"),
     "spec.indicator.ratio.total.expr", "names a secret variable"),
    ("team ${TEAM_CHANNEL}", TOTAL, "spec.description", "holds a secret"),
])
def test_secret_variables_never_reach_spec_text(description: str, expr: str, field: str,
                                                found: str, tmp_path: Path) -> None:
    token, password = "tok-" + secrets.token_hex(16), "pw-" + secrets.token_hex(16)
    # TEAM_CHANNEL has an ordinary name but a secret value: refused by its value.
    env = {**os.environ, "SLO_JOBS_PROMETHEUS_TOKEN": token,
           "SLO_JOBS_PROMETHEUS_PASSWORD": password, "TEAM_CHANNEL": f"#x {token}"}
    path = _spec(tmp_path, description, expr)
    proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"{path}:") and f": {field}: " in line and found in line, line
    assert token not in proc.stdout + proc.stderr and password not in proc.stderr
    # The control: an ordinary variable still expands.
    ok = _spec(tmp_path, "team ${TEAM}")
    [slo] = catalog.load([ok], env={"TEAM": "payments"})
    assert slo.description == "team payments"


def test_url_credentials_are_used_but_never_shown(prometheus: str, tmp_path: Path) -> None:
    password = "pw-" + secrets.token_hex(16)
    with FaultServer(prometheus, lambda n, p: Reply(503, b"warming up") if n == 1
                     else FORWARD) as server:
        url = server.url.replace("http://", f"http://reader:{password}@")
        proc = subprocess.run(
            [sys.executable, "-m", "slo_jobs.cli", "run", "--month", "2026-09", "--slos",
             str(ROOT / "slos" / "checkout.yaml"), "--prometheus-url", url,
             "--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    basic = "Basic " + base64.b64encode(f"reader:{password}".encode()).decode()
    assert server.seen and all(s.headers.get("Authorization") == basic for s in server.seen)
    html = (tmp_path / "out" / "2026-09" / "report.html").read_text()
    assert f"Source: {server.url}." in html  # the URL without its credentials
    assert password not in proc.stdout + proc.stderr
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert password.encode() not in path.read_bytes(), path
    # A failing run names the URL, never the credentials in it.
    with FaultServer(prometheus, lambda n, p: Reply(401, f"denied {url}".encode())) as bad:
        cfg = PrometheusConfig(bad.url.replace("http://", f"http://reader:{password}@"),
                               attempts=1)
        with PrometheusClient(cfg) as client, pytest.raises(ExtractError) as err:
            extract_slo(client, catalog.load([ROOT / "slos" / "checkout.yaml"])[0], [DAY],
                        tmp_path / "lake2")
    assert password not in str(err.value) and f"Prometheus at {bad.url}" in str(err.value)


def test_an_echo_cut_short_leaks_no_part_of_the_token(prometheus: str, slo: spec.Slo,
                                                       tmp_path: Path) -> None:
    token = "tok-" + secrets.token_hex(24)
    # The token straddles the 120-character cut: shortening before redacting leaves its
    # first part, which no longer matches the whole token.
    echo = ("x" * 100 + " " + token + " trailing").encode()
    with FaultServer(prometheus, lambda n, p: Reply(400, echo)) as server, \
            PrometheusClient(PrometheusConfig(server.url, token=token, attempts=1)) as client, \
            pytest.raises(ExtractError) as err:
        extract_slo(client, slo, [DAY], tmp_path)
    message = str(err.value)
    assert "***" in message and token[:10] not in message, message


@pytest.mark.parametrize(("url", "creds", "warned"), [
    ("http://prometheus.example:9090", {"token": "tok-abcdef123"}, True),
    ("http://10.1.2.3:9090", {"username": "u", "password": "pw-abcdef123"}, True),
    ("http://u:pw-abcdef123@prom.example", {}, True),
    ("https://prometheus.example:9090", {"token": "tok-abcdef123"}, False),
    ("http://127.0.0.1:9090", {"token": "tok-abcdef123"}, False),
    ("http://localhost:9090", {"token": "tok-abcdef123"}, False),
    ("http://prometheus.example:9091", {}, False),
])
def test_credentials_over_plain_http_warn_once(url: str, creds: dict[str, str], warned: bool,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        for _ in range(2):  # a second client for the same URL does not repeat it
            PrometheusClient(PrometheusConfig(url, **creds)).close()  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == (1 if warned else 0), lines
    assert all("plain http" in m and "abcdef123" not in m for m in lines)


def test_rule_backfill_never_puts_credentials_on_promtool_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "tok-" + secrets.token_hex(16)
    monkeypatch.setenv("SLO_JOBS_PROMETHEUS_TOKEN", token)
    slos = catalog.load([ROOT / "slos" / "checkout.yaml"])
    args = {"start": "2026-09-01", "end": "2026-09-02", "url": "http://127.0.0.1:9"}
    real = shutil.which("promtool")
    assert real is not None
    help_text = subprocess.run([real, "tsdb", "create-blocks-from", "rules", "--help"],
                               capture_output=True, text=True)
    if "--http.config.file" not in help_text.stdout + help_text.stderr:
        # Debian 12's promtool 2.42: refused in one line that names the way out.
        with pytest.raises(SloJobsError) as err:
            rules.command(slos, tmp_path / "r.yaml", AT, tmp_path / "blocks", **args)
        message = str(err.value)
        assert "has no --http.config.file" in message and "\n" not in message
        assert "SLO_JOBS_PROMETHEUS_TOKEN" in message  # names what to set instead
        assert token not in message and not any((tmp_path / "blocks").glob("*"))
    # A promtool that takes the option gets the token in that file, not in its arguments.
    fake = tmp_path / "bin" / "promtool"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor a; do echo "$a"; done >> "$0.args"\n'
                    'case "$*" in *--help*) echo "  --http.config.file=FILE";; *)\n'
                    'for a; do case "$a" in *.yml) cat "$a" >> "$0.args";; esac; done;; esac\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    rules.command(slos, tmp_path / "r.yaml", AT, tmp_path / "blocks", **args)
    seen = (tmp_path / "bin" / "promtool.args").read_text()
    run_args, _, config = seen.partition("authorization")
    assert "--http.config.file" in run_args and token not in run_args
    assert token in config  # the credentials went through the file
    assert not list(Path(tempfile.gettempdir()).glob("slo-jobs-promtool-*"))


def _windows(secret: str) -> set[str]:
    """Every part of redaction.FRAGMENT characters of ``secret``: none may be published."""
    n = redaction.FRAGMENT
    return {secret[i:i + n] for i in range(len(secret) - n + 1)}


def _readable(path: Path) -> str:
    """The text a reader of ``path`` sees: the PDF's text, JSON's strings decoded, HTML's
    entities resolved (a secret escaped on the way out is still the secret)."""
    if path.suffix == ".pdf":
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
    text = path.read_text()
    if path.suffix == ".json":
        text += "\n".join(_strings(json.loads(text)))
    return text + "\n" + html.unescape(text)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def test_secrets_pasted_into_a_spec_are_masked_in_every_output(prometheus: str,
                                                               tmp_path: Path) -> None:
    token = "tok-" + secrets.token_hex(16)
    # Quotes, markup and a non-ASCII letter: escaped differently by HTML, JSON and CSV.
    password = "pw-" + secrets.token_hex(6) + "'<&\"é" + secrets.token_hex(6)
    env = {**os.environ, "SLO_JOBS_PROMETHEUS_TOKEN": token, "WAREHOUSE_PASSWORD": password}
    doc = (ROOT / "slos" / "checkout.yaml").read_text().split("---")[0]
    doc = doc.replace("team: payments", f"team: {json.dumps(token[:12])}").replace(
        "description: Checkout requests that do not fail with a server error (5xx).",
        f"description: {json.dumps(f'Ask ops (password {password}) before editing')}")
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "checkout.yaml").write_text(doc)
    common = ["--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "out")]
    printed = []
    for args in (["run", "--month", "2026-09", "--prometheus-url", prometheus,
                  "--slos", str(tmp_path / "slos"), "--as-of", "2026-09-23T17:45:00+05:30"],
                 ["summary-page", "--month", "2026-09"],
                 ["review", "--week", "2026-W38", "--slos", str(tmp_path / "slos"),
                  "--as-of", "2026-09-23T17:45:00+05:30"]):
        proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args, *common],
                              capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
        assert proc.returncode == 0, proc.stderr
        printed.append(proc.stdout + proc.stderr)
    for args in (["rules", "--out", str(tmp_path / "out" / "rules.yaml")],
                 ["dashboard", "--out", str(tmp_path / "out" / "dashboard.json")]):
        proc = subprocess.run([sys.executable, "-m", "slo_jobs.cli", *args, "--slos",
                               str(tmp_path / "slos")], capture_output=True, text=True,
                              timeout=120, cwd=ROOT, env=env)
        assert proc.returncode == 0, proc.stderr
        printed.append(proc.stdout + proc.stderr)
    files = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert {p.suffix for p in files} >= {".html", ".pdf", ".json", ".csv", ".md", ".yaml"}
    texts = {str(p): _readable(p) for p in files} | {"printed": "\n".join(printed)}
    for where, text in texts.items():
        leaked = {w for w in _windows(token) | _windows(password) if w in text}
        assert not leaked, (where, leaked)
    # The texts were there, with the secret masked where it stood.
    report = texts[str(tmp_path / "out" / "2026-09" / "report.html")]
    assert "Ask ops (password ***) before editing" in report
    summary = json.loads((tmp_path / "out" / "2026-09" / "summary.json").read_text())
    assert summary[0]["team"] == summary[0]["toil"]["team"] == "***"  # the token's start


@pytest.mark.parametrize("part", [slice(0, 24), slice(10, 30), slice(-9, None)])
def test_a_part_of_the_token_echoed_by_the_server_is_masked(part: slice, prometheus: str,
                                                            tmp_path: Path) -> None:
    token = "tok-" + secrets.token_hex(16)
    echo = f"invalid bearer token {token[part]}... (expired)".encode()
    with FaultServer(prometheus, lambda n, p: Reply(401, echo)) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "slo_jobs.cli", "extract", "--month", "2026-09", "--slos",
             str(ROOT / "slos" / "checkout.yaml"), "--prometheus-url", server.url,
             "--lake", str(tmp_path / "lake")],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
            env={**os.environ, "SLO_JOBS_PROMETHEUS_TOKEN": token})
    assert server.seen and proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and "unexpected" not in line
    assert "invalid bearer token ***... (expired)" in line, line
    assert not {w for w in _windows(token) if w in proc.stdout + proc.stderr}


def test_log_lines_mask_parts_of_known_secrets(caplog: pytest.LogCaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    token = "tok-" + secrets.token_hex(16)
    monkeypatch.setenv("SLO_JOBS_PROMETHEUS_TOKEN", token)
    with caplog.at_level("INFO", logger="slo_jobs"):
        logging.getLogger("slo_jobs").warning("server said: bad token %s (%d)", token[:20], 401)
    assert [r.getMessage() for r in caplog.records] == ["server said: bad token *** (401)"]


def test_a_masked_rule_file_stays_valid_for_promtool(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # A secret sharing 8 characters with the rule text ("slo-jobs" in every group's name):
    # masked in the values before YAML is written, so the file still loads.
    secret = "s3cr3t-slo-jobs-" + secrets.token_hex(8)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    out = rules.write(catalog.load([ROOT / "slos"]), tmp_path / "rules.yaml", AT)
    text = out.read_text()
    assert "- name: '***:checkout-availability'" in text
    assert not {w for w in _windows(secret) if w in text}
    check = subprocess.run(["promtool", "check", "rules", str(out)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
