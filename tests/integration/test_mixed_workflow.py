"""One workflow whose DAG mixes a fixture, manifests, Jsonnet, Helm and a container step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import kubectl
from tests.integration.test_workflow_basics import nodes_by_display, run_pods, submit

pytestmark = pytest.mark.cluster

CHART = Path(__file__).resolve().parents[1] / "charts" / "webapp"


def test_mixed_workflow_passes_release_address_to_container(
    kubeconfig: str, namespace: str
) -> None:
    done, record = submit(
        kubeconfig,
        namespace,
        "mixed.yaml",
        f"namespace={namespace}",
        f"chart={CHART}",
    )
    assert done.returncode == 0, done.stderr
    assert record["phase"] == "Succeeded"
    nodes = nodes_by_display(record)
    for task, kind in [
        ("storage", "Fixture"),
        ("config", "Manifests"),
        ("settings", "Jsonnet"),
        ("web", "Helm"),
        ("client", "Pod"),
    ]:
        assert nodes[task]["type"] == kind, task
        assert nodes[task]["phase"] == "Succeeded", task

    # The container step starts only once the release is ready.
    assert nodes["client"]["startedAt"] >= nodes["web"]["finishedAt"]

    service = json.loads(
        kubectl(kubeconfig, "get", "service", "web", "-n", namespace, "-o", "json").stdout
    )
    address = f"{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    assert nodes["client"]["inputs"]["address"] == address
    assert nodes["client"]["result"] == address
    pods = run_pods(kubeconfig, namespace, record["name"])
    assert pods[0]["spec"]["containers"][0]["args"] == ["--fail", f"http://{address}/"]

    config = json.loads(
        kubectl(kubeconfig, "get", "configmap", "app-config", "-n", namespace, "-o", "json").stdout
    )
    assert config["data"] == {"mode": "fast"}
    settings = json.loads(
        kubectl(kubeconfig, "get", "configmap", "settings", "-n", namespace, "-o", "json").stdout
    )
    assert settings["data"] == {"greeting": "hello"}
    assert settings["metadata"]["labels"] == {"app.kubernetes.io/part-of": "mixed"}
