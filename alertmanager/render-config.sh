#!/bin/sh
# Render alertmanager.yml: replace every $-brace placeholder with the environment's value (Alertmanager has no env
# expansion). POSIX sh + awk only, so it runs in the busybox-based prom/alertmanager image.
# Usage: render-config.sh <template> <output>
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: $0 <template> <output>" >&2
  exit 64
fi
: "${ALERTMANAGER_TEMPLATES_DIR:=/etc/alertmanager/templates}"
export ALERTMANAGER_TEMPLATES_DIR
# awk builds the line from substrings instead of sub()/gsub(): URLs may hold "&" and "\", which sub() would interpret.
awk '
  {
    out = ""; rest = $0
    while (match(rest, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
      name = substr(rest, RSTART + 2, RLENGTH - 3)
      if (!(name in ENVIRON) || ENVIRON[name] == "") { printf "render-config: %s is not set\n", name > "/dev/stderr"; failed = 1 }
      out = out substr(rest, 1, RSTART - 1) ENVIRON[name]
      rest = substr(rest, RSTART + RLENGTH)
    }
    print out rest
  }
  END { exit failed }
' "$1" > "$2.tmp" || { rm -f "$2.tmp"; exit 1; }
mv "$2.tmp" "$2"
