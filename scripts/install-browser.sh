#!/usr/bin/env bash
# Chromium (Debian's package) and Playwright for the browser tests. Idempotent and quick when done.
# Playwright never downloads its own browser here: the tests launch /usr/bin/chromium.
set -euo pipefail
venv="${1:-.venv}"
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package) for the browser tests"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
if ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
  "$venv/bin/pip" install --disable-pip-version-check -q "playwright>=1.50"
fi
