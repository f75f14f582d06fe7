"""One-off readiness (`deployer status`, fixture steps) counts only a Deployment's current pods."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster import Cluster
from deployer.engine.live import judge_live
from deployer.model.status import State
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - {{name: web, image: nginx:1.27}}
"""

# A pod with the Deployment's labels and containers but from no ReplicaSet of it. A rule
# that compares pods with the template takes it for a current pod, as it would an old
# revision's pod that differed only in its volumes: its annotations are a superset of the
# template's (which has none).
STRAY_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-old
  namespace: {namespace}
  labels: {{app: web}}
  annotations: {{deployer.dev/sim: crashloop}}
spec:
  containers:
  - {{name: web, image: nginx:1.27}}
"""


def wait_for(check: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_deployment_ignores_stray_pods(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    manifests = tmp_path / "web.yaml"
    manifests.write_text(DEPLOYMENT.format(namespace=namespace))
    kubectl(kubeconfig, "apply", "-f", str(manifests))
    stray = tmp_path / "stray.yaml"
    stray.write_text(STRAY_POD.format(namespace=namespace))
    kubectl(kubeconfig, "apply", "-f", str(stray))
    cluster = Cluster.connect(kubeconfig=kubeconfig)

    def available() -> bool:
        live = cluster.get("apps/v1", "Deployment", "web", namespace) or {}
        return int((live.get("status") or {}).get("availableReplicas") or 0) == 1

    def stray_crashing() -> bool:
        pod = cluster.get("v1", "Pod", "web-old", namespace) or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return any((s.get("state") or {}).get("waiting") for s in statuses)

    wait_for(available)
    wait_for(stray_crashing)
    live = cluster.get("apps/v1", "Deployment", "web", namespace)
    assert live is not None
    verdict = judge_live(cluster, live)
    assert verdict.state == State.READY, verdict
