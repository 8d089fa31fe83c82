#!/usr/bin/env bash
# The set-up on a minimal Debian 12, from nothing: copies this working tree into a minimal
# root file system, brings only what docs/operations.md "A fresh machine" says to bring
# (make and git), runs `make install` there (scripts/bootstrap.sh installs the rest), then the
# checks that need the Debian packages. With FULL=1 it runs the whole `make test` instead.
#
#   debootstrap --variant=minbase bookworm /var/tmp/bookworm http://deb.debian.org/debian
#   sudo scripts/fresh_debian_check.sh /var/tmp/bookworm
#
# As root (chroot, mounts). The root file system is changed: use a throwaway copy.
set -euo pipefail
root=$(realpath "${1:?usage: fresh_debian_check.sh ROOTFS (a debootstrap --variant=minbase folder)}")
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$root/etc/debian_version" ] || [ ! -x "$root/bin/bash" ]; then
  echo "$root: not a Debian root file system; expected the folder debootstrap wrote" >&2
  exit 2
fi
rm -rf "$root/root/slo-jobs"
mkdir -p "$root/root/slo-jobs"
# The tracked files as they are in the working tree (uncommitted edits included), no .venv.
(cd "$repo" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$root/root/slo-jobs"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
trap 'umount -R "$root/dev"; umount "$root/proc"' EXIT
env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
     LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "FULL=${FULL:-}")
# Behind a TLS-intercepting proxy, pip needs that proxy's CA, which a fresh machine lacks.
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
  cp "$PIP_CERT" "$root/root/proxy-ca.crt"
  env+=(PIP_CERT=/root/proxy-ca.crt SSL_CERT_FILE=/root/proxy-ca.crt)
fi
chroot "$root" /usr/bin/env -i "${env[@]}" /bin/bash -euxo pipefail -c '
  cd /root/slo-jobs
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends make git >/dev/null
  make install
  .venv/bin/slo-jobs --version
  .venv/bin/slo-jobs validate slos/
  if [ -n "$FULL" ]; then make test; exit; fi
  .venv/bin/python -m demo.prom build .cache/demo
  .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_bootstrap.py \
    tests/faults/test_environment.py tests/test_browser.py tests/test_report.py \
    tests/test_openslo.py
'
