#!/usr/bin/env bash
# Installs what the map browser tests (tests/test_maps_browser.py) and maps.write_png need:
# Debian's chromium, a CJK font so Chinese labels render, poppler-utils (pdftotext: the report's
# print test reads the PDF Chromium prints), and the Playwright Python package
# that drives the system chromium. Idempotent: each step is skipped when already done.
# Never runs `playwright install` (it downloads its own browser builds, which this project
# does not use: the tests launch /usr/bin/chromium).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
fi

apt_pkgs=()
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
command -v pdftotext >/dev/null 2>&1 || apt_pkgs+=(poppler-utils)
if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; }; then
  apt_pkgs+=(fonts-wqy-microhei)
fi
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_browser: need ${apt_pkgs[*]} but apt-get is missing; install them by hand" >&2
    exit 1
  fi
  echo "setup_browser: installing ${apt_pkgs[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}"
else
  echo "setup_browser: chromium, poppler-utils and a CJK font already installed"
fi

if "$python" -c "import playwright.sync_api" >/dev/null 2>&1; then
  echo "setup_browser: playwright already installed for $python"
else
  echo "setup_browser: installing playwright for $python"
  "$python" -m pip install -q "playwright>=1.40"
fi

chromium --version 2>/dev/null || true
