#!/usr/bin/env bash
# Set everything up and bring the demo stack up: on the cluster of --kubeconfig,
# KUBECONFIG or ~/.kube/config if one is given, else on the local control plane.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
exec .venv/bin/deployer up demo "$@"
