#!/usr/bin/env bash
# Install deployer and its test tools into .venv, then build the local control plane's
# binaries (cached outside the checkout, so only the first run is slow).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/deployer local build
