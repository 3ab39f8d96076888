#!/usr/bin/env bash
# Make sure Debian's chromium is present for the inbox browser test.
# Playwright drives /usr/bin/chromium; it never downloads a browser. On a fresh
# CI machine (root, apt-get available) this installs the distribution package;
# elsewhere it only reports, and the browser test then fails loudly.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  echo "warning: /usr/bin/chromium is missing and cannot be installed here;" \
    "the inbox browser test will fail" >&2
fi
