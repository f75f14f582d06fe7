"""Rollouts that replace broken pods, and pods that cannot be created, on the real control plane."""

from __future__ import annotations

import time
from string import Template

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, ApplyResult, apply_manifests
from deployer.errors import ObjectFailed
from deployer.model.events import ObjectEvent
from deployer.model.status import State
from deployer.sources.loader import load_text
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

# maxUnavailable 0 keeps the crash-looping pods of the old ReplicaSet until new pods are
# available, so the wait sees both.
DEPLOYMENT = Template("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: fixme}
spec:
  replicas: $replicas
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector: {matchLabels: {app: fixme}}
  template:
    metadata:
      labels: {app: fixme}
      annotations: {$annotations}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        resources: {requests: {cpu: $cpu}}
""")

DAEMONSET = Template("""
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata:
      labels: {app: agent}
      annotations: {$annotations}
    spec:
      containers: [{name: agent, image: agent:1}]
""")

STATEFULSET = Template("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: db}}
  template:
    metadata:
      labels: {app: db}
      annotations: {$annotations}
    spec:
      containers: [{name: db, image: db:1}]
""")

CRASHLOOP = "deployer.dev/sim: crashloop"


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _apply(cluster: Cluster, text: str, namespace: str, *, timeout: float = 60) -> ApplyResult:
    return apply_manifests(
        cluster,
        load_text(text, file="test.yaml"),
        options=ApplyOptions(namespace=namespace, timeout_seconds=timeout),
    )


def _crash(cluster: Cluster, text: str, namespace: str) -> None:
    with pytest.raises(ObjectFailed) as raised:
        _apply(cluster, text, namespace)
    assert "CrashLoopBackOff" in str(raised.value)


def test_crashloop_fixed_by_removing_annotation(cluster: Cluster, namespace: str) -> None:
    _crash(cluster, DEPLOYMENT.substitute(replicas=2, annotations=CRASHLOOP, cpu="100m"), namespace)
    fixed = DEPLOYMENT.substitute(replicas=5, annotations="", cpu="100m")
    result = _apply(cluster, fixed, namespace)
    assert [item.status.state for item in result.objects] == [State.READY]


def test_rollout_still_crashing_names_new_pod(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    broken = DEPLOYMENT.substitute(replicas=2, annotations=CRASHLOOP, cpu="100m")
    _crash(cluster, broken, namespace)
    started = time.monotonic()
    with pytest.raises(ObjectFailed) as raised:
        _apply(cluster, broken.replace("100m", "200m"), namespace)
    assert time.monotonic() - started < 60
    revision = kubectl(
        kubeconfig,
        "get",
        "deployment",
        "fixme",
        "-n",
        namespace,
        "-o",
        "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    ).stdout
    assert revision == "2"
    hashes = kubectl(
        kubeconfig,
        "get",
        "replicasets",
        "-n",
        namespace,
        "-o",
        "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        "={.metadata.labels.pod-template-hash}{'\\n'}{end}",
    ).stdout.split()
    current = dict(line.split("=") for line in hashes)["2"]
    assert f"pod fixme-{current}-" in str(raised.value)


def test_daemonset_crashloop_fixed_by_removing_annotation(cluster: Cluster, namespace: str) -> None:
    _crash(cluster, DAEMONSET.substitute(annotations=CRASHLOOP), namespace)
    result = _apply(cluster, DAEMONSET.substitute(annotations=""), namespace)
    assert [item.status.state for item in result.objects] == [State.READY]


def test_parallel_statefulset_crashloop_fixed(cluster: Cluster, namespace: str) -> None:
    _crash(cluster, STATEFULSET.substitute(annotations=CRASHLOOP), namespace)
    result = _apply(cluster, STATEFULSET.substitute(annotations=""), namespace)
    assert [item.status.state for item in result.objects] == [State.READY]


def test_pods_that_cannot_be_created_fail_after_grace(cluster: Cluster, namespace: str) -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: lonely}
spec:
  replicas: 1
  selector: {matchLabels: {app: lonely}}
  template:
    metadata: {labels: {app: lonely}}
    spec:
      serviceAccountName: nosuch
      containers: [{name: app, image: app:1}]
"""
    events: list[ObjectEvent] = []
    started = time.monotonic()
    with pytest.raises(ObjectFailed) as raised:
        apply_manifests(
            cluster,
            load_text(text, file="test.yaml"),
            options=ApplyOptions(namespace=namespace, timeout_seconds=300),
            progress=events.append,
        )
    took = time.monotonic() - started
    message = str(raised.value)
    assert f"Deployment {namespace}/lonely failed: FailedCreate for 30 s" in message
    assert 'serviceaccount "nosuch" not found' in message
    assert 30 <= took < 60
    shown = [event for event in events if event.reason == "FailedCreate"]
    assert shown
    assert 'serviceaccount "nosuch" not found' in shown[0].message
