"""The log follower of `deployer logs -f` waits for a pod that is on no node yet."""

from __future__ import annotations

import time

import pytest

from deployer.cli.workflow_cmds import Target
from deployer.cli.workflow_control import LogFollower
from deployer.cluster import Cluster
from deployer.model.run import NodeRecord

pytestmark = pytest.mark.cluster

GATE = "example.com/hold"


def gated_pod(name: str, namespace: str) -> dict[str, object]:
    """A pod that the scheduler leaves alone until its scheduling gate is removed."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedulingGates": [{"name": GATE}],
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}],
        },
    }


def follow_gated_pod(kubeconfig: str, namespace: str, name: str) -> LogFollower:
    """Create a gated pod and start following its log."""
    Cluster.connect(kubeconfig=kubeconfig).apply(gated_pod(name, namespace))
    follower = LogFollower(
        Target(kubeconfig, None, namespace), namespace, follow=True, prefix=False
    )
    follower.add(NodeRecord(id=name, name=name, display_name="step", type="Pod", pod_name=name))
    return follower


def test_follower_waits_for_scheduling(
    kubeconfig: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    follower = follow_gated_pod(kubeconfig, namespace, "gated")
    reader = follower.threads["gated"]

    time.sleep(2.5)
    assert reader.is_alive(), "the follower gave up on a pod that is on no node yet"

    cluster = Cluster.connect(kubeconfig=kubeconfig)
    cluster.patch("v1", "Pod", "gated", namespace, {"spec": {"schedulingGates": None}})
    reader.join(timeout=60)
    assert not reader.is_alive()
    errors = capsys.readouterr().err
    assert "log of pod gated is not available" in errors
    assert "no kubelet is reachable" in errors


def test_follower_reports_pod_never_scheduled(
    kubeconfig: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    follower = follow_gated_pod(kubeconfig, namespace, "held")
    follower.run_over.set()
    follower.wait()
    errors = capsys.readouterr().err
    assert "log of pod held is not available: the pod was not scheduled to a node" in errors
