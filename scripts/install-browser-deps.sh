#!/usr/bin/env bash
# Install Debian's Chromium for the landing page's real-browser test (driven by playwright-core, which downloads
# no browser of its own). Idempotent and silent when /usr/bin/chromium is present.
# --if-possible: where it cannot install (not root, no password-less sudo, no apt-get), print what to install and
# exit 0; the browser test is then skipped, saying so.
set -euo pipefail
if_possible=false
[ "${1:-}" = "--if-possible" ] && if_possible=true
[ -x /usr/bin/chromium ] && exit 0

hint="install it with: sudo apt-get install -y chromium"
cannot() {
  echo "install-browser-deps: missing /usr/bin/chromium: $1; $hint" >&2
  if $if_possible; then exit 0; else exit 1; fi
}
command -v apt-get >/dev/null 2>&1 || cannot "no apt-get on this machine"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || cannot "need root or password-less sudo"
  sudo=(sudo -n)
fi
echo "install-browser-deps: installing chromium with apt-get" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "install-browser-deps: /usr/bin/chromium still missing after install" >&2; exit 1; }
echo "install-browser-deps: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)" >&2
