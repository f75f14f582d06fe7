#!/usr/bin/env bash
# Set everything up, start a local control plane for the tests, run the linters and the
# whole test suite, and stop the control plane again. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

ruff check deployer tests bench
mypy

cluster="test-$$"
trap 'deployer local down "$cluster" >/dev/null || true' EXIT
deployer local up "$cluster"
export DEPLOYER_TEST_KUBECONFIG
DEPLOYER_TEST_KUBECONFIG=$(deployer local kubeconfig "$cluster")

# Whole files go to each worker: the demo tests share fixed namespaces and must not run
# in two processes at once.
python -m pytest -n 2 --dist loadfile -q "$@"
