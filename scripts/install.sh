#!/usr/bin/env bash
# Builds a release binary and installs hubmeter the usual way:
#   /usr/local/bin/hubmeter                       the binary (Swift runtime linked in statically)
#   /etc/systemd/system/hubmeter-*.service        the units (not enabled)
#   /etc/hubmeter/*.example.yaml                  example configurations (never overwrites yours)
#   /usr/local/share/hubmeter/                    device profiles and SunSpec models (data)
#   /usr/local/share/doc/hubmeter/                README and docs
# Usage: scripts/install.sh [--prefix /usr/local] [--destdir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local
destdir=""
while (($#)); do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --destdir) destdir="$2"; shift 2 ;;
    *) echo "install: unknown option $1" >&2; exit 64 ;;
  esac
done
source scripts/setup.sh
binary="$(scripts/build-release.sh)"

install -d "$destdir$prefix/bin" "$destdir/etc/hubmeter" "$destdir/etc/systemd/system" \
  "$destdir$prefix/share/hubmeter" "$destdir$prefix/share/doc/hubmeter"
install -m 0755 "$binary" "$destdir$prefix/bin/hubmeter"
for unit in systemd/*.service; do
  sed "s|/usr/local/bin/hubmeter|$prefix/bin/hubmeter|g" "$unit" > "$destdir/etc/systemd/system/$(basename "$unit")"
  chmod 0644 "$destdir/etc/systemd/system/$(basename "$unit")"
done
for example in Config/*.example.yaml; do
  install -m 0644 "$example" "$destdir/etc/hubmeter/$(basename "$example")"
done
# Device data: everything under Config/ except the example configurations.
(cd Config && find . -mindepth 1 -type d -exec install -d "$destdir$prefix/share/hubmeter/{}" \;)
(cd Config && find . -type f ! -name '*.example.yaml' -exec install -m 0644 {} "$destdir$prefix/share/hubmeter/{}" \;)
install -m 0644 README.md "$destdir$prefix/share/doc/hubmeter/"
cp -r docs "$destdir$prefix/share/doc/hubmeter/"
[[ -z "$destdir" ]] && command -v systemctl >/dev/null && systemctl daemon-reload 2>/dev/null || true
echo "install: hubmeter installed under ${destdir:-/}; copy /etc/hubmeter/agent.example.yaml to agent.yaml,"
echo "         edit it, check it with 'hubmeter check-config /etc/hubmeter/agent.yaml', then"
echo "         'systemctl enable --now hubmeter-agent'."
