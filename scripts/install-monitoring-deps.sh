#!/usr/bin/env bash
# Install the binaries the monitoring bundle's tests run: prometheus + promtool, Alertmanager + amtool,
# docker-compose (config validation only); and Chromium, which the landing page's browser test drives through
# playwright-core (it downloads no browser of its own). Debian/Ubuntu. Idempotent and silent when all are present.
# --if-possible (used by `npm test`): where it cannot install (not root, no password-less sudo, no apt-get),
# print what to install and exit 0; the tests that need the binaries then fail naming them.
set -euo pipefail
if_possible=false
[ "${1:-}" = "--if-possible" ] && if_possible=true

needed=(prometheus promtool prometheus-alertmanager amtool docker-compose chromium)
missing=()
for bin in "${needed[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

hint="install them with: sudo apt-get install -y prometheus prometheus-alertmanager docker-compose chromium"
cannot() {
  echo "install-monitoring-deps: missing ${missing[*]}: $1; $hint" >&2
  if $if_possible; then exit 0; else exit 1; fi
}
command -v apt-get >/dev/null 2>&1 || cannot "no apt-get on this machine"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || cannot "need root or password-less sudo"
  sudo=(sudo -n)
fi
echo "install-monitoring-deps: missing ${missing[*]}; installing with apt-get" >&2

# The packages' postinst scripts may start daemons; nothing here should run as a system service.
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  prometheus prometheus-alertmanager docker-compose chromium >/dev/null

services=(prometheus prometheus-alertmanager prometheus-node-exporter)
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for svc in "${services[@]}"; do
    "${sudo[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
elif command -v service >/dev/null 2>&1; then
  for svc in "${services[@]}"; do
    "${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
  done
fi

for bin in "${needed[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || { echo "install-monitoring-deps: $bin still missing after install" >&2; exit 1; }
done
echo "install-monitoring-deps: installed ${missing[*]}" >&2
