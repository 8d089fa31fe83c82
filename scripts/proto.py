"""Generate the Python code of Prometheus' remote-read protocol from the .proto files kept in
slo_jobs/sources/prometheus/prompb/proto (``make proto``; needs grpcio-tools).

protoc writes ``import types_pb2`` for remote.proto's import of types.proto, a top-level
import that would not resolve inside the package: it is made relative.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc

PROMPB = Path(__file__).resolve().parent.parent / "slo_jobs/sources/prometheus/prompb"
PROTOS = ("types.proto", "remote.proto")


def generate(out: Path) -> list[Path]:
    """Write types_pb2.py(i) and remote_pb2.py(i) into ``out``; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    args = ["protoc", f"-I{PROMPB / 'proto'}", f"--python_out={out}", f"--pyi_out={out}",
            *(str(PROMPB / "proto" / p) for p in PROTOS)]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed: {' '.join(args)}")
    written = []
    for name in PROTOS:
        for suffix in (".py", ".pyi"):
            path = out / (name.removesuffix(".proto") + "_pb2" + suffix)
            text = re.sub(r"^import types_pb2 as (\w+)$", r"from . import types_pb2 as \1",
                          path.read_text(), flags=re.M)
            path.write_text(text)
            written.append(path)
    return written


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PROMPB):
        print(path)
