"""The set-up of docs/operations.md on a minimal Debian 12 image, when one is at hand.

A minimal image is a `debootstrap --variant=minbase bookworm` folder named by
SLO_JOBS_DEBIAN_ROOTFS (it is changed: use a throwaway copy); the check needs root for chroot.
scripts/fresh_debian_check.sh copies this working tree in, brings only `make`, runs
`make install` and the tests that need the bootstrap's Debian packages. Without an image,
tests/test_bootstrap.py still checks that every program the tests start comes from a package
the bootstrap installs and that docs/operations.md "A fresh machine" lists them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

ROOTFS = os.environ.get("SLO_JOBS_DEBIAN_ROOTFS", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ROOTFS, reason="no minimal Debian image: set SLO_JOBS_DEBIAN_ROOTFS "
                       "(docs/operations.md, 'A fresh machine')"),
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root"),
]


def test_readme_setup_on_a_minimal_debian_image() -> None:
    assert (Path(ROOTFS) / "etc" / "debian_version").read_text().startswith("12"), \
        f"{ROOTFS}: expected a Debian 12 (bookworm) root file system"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "fresh_debian_check.sh"), ROOTFS],
                          capture_output=True, text=True, timeout=3600)
    tail = (done.stdout + done.stderr)[-3000:]
    assert done.returncode == 0, tail
    assert "ok: 18 SLOs and 2 journeys in 9 files valid" in done.stdout + done.stderr, tail
    summary = [ln for ln in done.stdout.splitlines() if " passed" in ln]
    assert summary and "failed" not in summary[-1] and "error" not in summary[-1], tail
