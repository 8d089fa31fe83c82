"""Behaviour unchanged: the demo month through two versions of slo-jobs, file for file.

    .venv/bin/python scripts/same_outputs.py BASE [HEAD]

BASE and HEAD are git revisions (HEAD default: the working tree). Both run the same commands
against one Prometheus serving the demo history (`.cache/demo`, built if missing) at fixed
instants: `run` of the demo's closed month and of the next month at an odd minute, `show`,
`review`, `whatif`, `summary-page`, `rules`, `dashboard` and `export-openslo`. Every file
written (the lake's partitions, summary.json, CSV, HTML, PDF, rule file, dashboard) and every
command's output must be byte-identical (the time a page was rendered aside, and a PDF
compared by its text and layout, since its metadata holds that time too); the first
differences are listed and the exit status is 1. A restructuring of the code should pass
this; a change of behaviour should not.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = "import sys; from slo_jobs.cli import main; sys.argv[0] = 'slo-jobs'; main()"
AS_OF = "2026-10-02T00:00Z"
COMMANDS = [
    ["run", "--month", "2026-09", "--as-of", AS_OF],
    ["run", "--month", "2026-10", "--as-of", "2026-10-01T07:41+05:45"],
    ["show", "--month", "2026-09"],
    ["review", "--week", "2026-W38", "--as-of", AS_OF],
    ["whatif", "--slo", "checkout-availability", "--from", "2026-09", "--to", "2026-09",
     "--target", "0.9995", "--as-of", AS_OF],
    ["summary-page", "--month", "2026-09"],
    ["rules", "--at", AS_OF, "--out", "{work}/slo-rules.yaml"],
    ["dashboard", "--at", AS_OF, "--out", "{work}/slo-dashboard.json"],
    ["export-openslo", "--out", "{work}/openslo.yaml"],
]
# Options every command above takes beside its own.
SHARED = {"run": ["--prometheus-url", "{url}", "--slos", "{slos}", "--lake", "{work}/lake",
                  "--out", "{work}/out"],
          "show": ["--lake", "{work}/lake", "--out", "{work}/out"],
          "review": ["--slos", "{slos}", "--lake", "{work}/lake", "--out", "{work}/out"],
          "whatif": ["--slos", "{slos}", "--lake", "{work}/lake", "--out", "{work}/out"],
          "summary-page": ["--lake", "{work}/lake", "--out", "{work}/out"],
          "rules": ["--slos", "{slos}"], "dashboard": ["--slos", "{slos}"],
          "export-openslo": ["--slos", "{slos}"]}


def tree(rev: str | None, into: Path) -> Path:
    """The source tree of ``rev`` (None: the working tree as it is)."""
    if rev is None:
        return REPO
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


# The one wall-clock value in the outputs: when a page was rendered ("generated ... UTC").
RENDERED = re.compile(rb"((?:generated|Rendered) (?:<[^>]*>)?)\d{4}-\d\d-\d\d \d\d:\d\d UTC"
                      rb"|(up to )\d{4}-\d\d-\d\d \d\d:\d\d UTC(?= \(when this page was made\))")


def normal(path: Path, data: bytes, work: Path, src: Path) -> bytes:
    """``data`` with the rendering time and the two folders' names taken out; a PDF as its
    text with its layout (its metadata holds the rendering time too)."""
    if path.suffix == ".pdf":
        data = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                              capture_output=True).stdout
    data = data.replace(str(work).encode(), b"WORK").replace(str(src).encode(), b"SRC")
    return RENDERED.sub(lambda m: (m.group(1) or m.group(2)) + b"RENDERED", data)


def outputs(src: Path, work: Path, url: str) -> dict[str, bytes]:
    """Every command's output and every file it wrote, by name."""
    env = {**os.environ, "PYTHONPATH": str(src), "TZ": "UTC", "COLUMNS": "120"}
    env.pop("SLO_JOBS_PROMETHEUS_URL", None)
    seen: dict[str, bytes] = {}
    for n, command in enumerate(COMMANDS):
        args = [a.format(work=work, url=url, slos=src / "slos")
                for a in [*command, *SHARED[command[0]]]]
        done = subprocess.run([sys.executable, "-c", CLI, *args], cwd=work, env=env,
                              capture_output=True)
        text = done.stdout + done.stderr + f"\nexit {done.returncode}\n".encode()
        seen[f"{n} {command[0]} (output)"] = normal(work, text, work, src)
    for path in sorted(work.rglob("*")):
        if path.is_file():
            seen[str(path.relative_to(work))] = normal(path, path.read_bytes(), work, src)
    return seen


def serve(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Prometheus over the demo history, from this working tree's generator."""
    sys.path.insert(0, str(REPO))
    try:
        from demo import prom
    except ImportError:
        from demo import prom  # type: ignore[no-redef]

    data = tmp / "tsdb"  # a copy: another Prometheus may hold the cache's lock
    shutil.copytree(prom.build(REPO / ".cache" / "demo"), data)
    port = prom.free_port()
    return prom.start(data, port, tmp / "prometheus.log"), f"http://127.0.0.1:{port}"


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    base, head = argv[0], argv[1] if len(argv) == 2 else None
    with tempfile.TemporaryDirectory(prefix="same-outputs-") as name:
        tmp = Path(name)
        proc, url = serve(tmp)
        try:
            got = []
            for label, rev in (("base", base), ("head", head)):
                work = tmp / label / "work"
                work.mkdir(parents=True)
                got.append(outputs(tree(rev, tmp / label / "src"), work, url))
        finally:
            proc.terminate()
            proc.wait()
    a, b = got
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    for key in differ[:20]:
        print(f"differs: {key}" + ("" if key in a and key in b else
                                   " (only in " + ("base" if key in a else "head") + ")"))
        if key in a and key in b and b"\0" not in a[key] + b[key]:
            lines = difflib.unified_diff(a[key].decode(errors="replace").splitlines(),
                                         b[key].decode(errors="replace").splitlines(),
                                         "base", "head", lineterm="", n=0)
            print("\n".join(f"    {line[:160]}" for line in list(lines)[2:8]))
    digest = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(b.items()))).hexdigest()
    print(f"{len(a)} outputs of {base}, {len(b)} of {head or 'the working tree'}: "
          + (f"{len(differ)} differ" if differ else f"identical (sha256 {digest[:16]})"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
