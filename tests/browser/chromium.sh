#!/usr/bin/env bash
# Headless Chromium for the report test: Debian's package, installed when missing (needs root
# and apt-get); prints the browser's path. Exit 2: it cannot be installed here.
set -euo pipefail
for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null; then command -v "$name"; exit 0; fi
done
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "Chromium is not installed and cannot be (needs root and apt-get)" >&2
  exit 2
fi
echo "installing Debian's chromium package" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
