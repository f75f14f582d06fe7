"""Progress events of a stack's fixture step while a resource it needs is still missing."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.kinds import TemplateContext
from deployer.engine.templates import KINDS, fixture
from deployer.model.events import ObjectEvent
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

WAITING = re.compile(r"waiting for it to be created \((\d+) s left\)")


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def run_fixture(
    cluster: Cluster, namespace: str, spec: dict[str, object]
) -> tuple[str, list[ObjectEvent]]:
    events: list[ObjectEvent] = []
    ctx = TemplateContext(
        cluster=cluster,
        base_dir=Path.cwd(),
        parameters={},
        workflow_parameters={},
        namespace=namespace,
        run_name="wait-abcde",
        node_name="wait-abcde.storage",
        progress=events.append,
    )
    result = KINDS["fixture"].run(spec, ctx)
    return result.phase, events


def test_missing_fixture_reports_while_waiting(
    cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fixture, "MISSING_REPORT_SECONDS", 1.0)
    resource = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "name": "no-such"}
    phase, events = run_fixture(cluster, namespace, {"resources": [resource], "timeout": "3500ms"})
    assert phase == "Failed"
    waiting = [event for event in events if event.reason == "NotFound"]
    assert len(waiting) >= 2, events
    assert str(waiting[0].ref) == "StorageClass.storage.k8s.io no-such"
    assert waiting[0].step == "wait-abcde.storage"
    left = []
    for event in waiting:
        found = WAITING.fullmatch(event.message)
        assert found, event.message
        left.append(int(found.group(1)))
    assert left == sorted(left, reverse=True)
    assert left[0] <= 3


def test_late_fixture_ready_after_report(
    cluster: Cluster, kubeconfig: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fixture, "MISSING_REPORT_SECONDS", 0.5)

    def create_later() -> None:
        time.sleep(1.5)
        kubectl(kubeconfig, "create", "configmap", "late", "-n", namespace)

    creator = threading.Thread(target=create_later)
    creator.start()
    resource = {"apiVersion": "v1", "kind": "ConfigMap", "name": "late"}
    phase, events = run_fixture(cluster, namespace, {"resources": [resource], "timeout": "30s"})
    creator.join()
    assert phase == "Succeeded", events
    reasons = [event.reason for event in events]
    assert "NotFound" in reasons
    assert reasons[-1] != "NotFound"
    assert events[-1].state.value == "Ready"
