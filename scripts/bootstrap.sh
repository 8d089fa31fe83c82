#!/usr/bin/env bash
# Install what slo-jobs needs on Debian 12: system packages, then a virtualenv with the
# exact versions pinned in requirements.lock. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything `make demo` and `make test` run outside .venv; docs/operations.md "A fresh machine" explains each.
# tests/test_bootstrap.py fails when a test starts a program whose package is not listed here.
DEB_PACKAGES=(python3 python3-venv prometheus libpango-1.0-0 libpangoft2-1.0-0
              libharfbuzz-subset0 fonts-dejavu-core poppler-utils locales tzdata chromium
              victoria-metrics redis-server postgresql)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "slo-jobs needs these Debian packages: ${missing[*]}" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "slo-jobs needs Python 3.11 or newer; found $("$PYTHON" --version 2>&1). Set PYTHON=..." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || { echo "run: apt-get install -y python3-venv" >&2; exit 1; }
fi
.venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip -q
# uv resolves and installs the ~500 pinned packages in seconds rather than minutes.
.venv/bin/python -m pip install -q --disable-pip-version-check uv==0.13.8
.venv/bin/uv pip install -q --python .venv/bin/python -r requirements.lock
.venv/bin/uv pip install -q --python .venv/bin/python --no-deps --no-build-isolation -e .
echo "environment ready: .venv"
