#!/usr/bin/env bash
# One-step set-up on a fresh machine: a virtual environment in .venv with the toolkit installed
# (editable). With --test, also what the tests need: the test extras (pytest, Playwright's
# Python driver, the notebook runner), the cluster extra (Dask, for the scale-out tests) and,
# through scripts/setup_browser.sh, Debian's chromium and a CJK font for the browser tests. Idempotent and quick when everything is already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
extras=""
if [ "${1:-}" = "--test" ]; then extras="[test,cluster]"; fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
echo "setup: installing eldercare-coverage$extras into .venv"
.venv/bin/python -m pip install -q -e ".$extras"

if [ -n "$extras" ]; then
  PYTHON="$root/.venv/bin/python" bash scripts/setup_browser.sh
fi
echo "setup: done"
