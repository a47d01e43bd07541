#!/usr/bin/env bash
# Installs the Debian package `chromium` (the real browser the report tests drive through
# playwright-core at /usr/bin/chromium) when it is missing. Needs root or sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
