"""Helm values from a stack file, through `deployer up`, on the local control plane."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from deployer.local import helm_binary
from tests.conftest import kubectl
from tests.integration.test_demo_stacks import deployer

pytestmark = pytest.mark.cluster

STACK = "tests/stacks/helm-values.yaml"


def get(kubeconfig: str, namespace: str, *what: str) -> dict[str, Any]:
    done = kubectl(kubeconfig, "get", *what, "-n", namespace, "-o", "json")
    return dict(json.loads(done.stdout))


def helm_revisions(kubeconfig: str, namespace: str) -> list[str]:
    binary = helm_binary()
    assert binary is not None, "the helm binary is needed for this test"
    done = subprocess.run(
        [str(binary), "--kubeconfig", kubeconfig, "list", "-n", namespace, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [release["revision"] for release in json.loads(done.stdout)]


def test_stack_values_layer_over_workflow_and_chart(kubeconfig: str, namespace: str) -> None:
    up = deployer(kubeconfig, "up", STACK, "-p", f"namespace={namespace}")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        config = get(kubeconfig, namespace, "configmap", "web-config")
        # The stack's message wins over the workflow's; its null deletes the chart's
        # extraConfig block, so the `extra` key is not rendered.
        assert config["data"] == {"message": "from-stack"}
        deployment = get(kubeconfig, namespace, "deployment", "web")
        # replicaCount comes from the workflow, which the stack does not touch.
        assert deployment["spec"]["replicas"] == 2
        # The image tag is the chart default, which no layer sets.
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "registry.example/webapp:1.0"
        assert container["ports"][0]["containerPort"] == 9090
        # The stack's null deletes the workflow's podAnnotations mapping.
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert "team" not in annotations
        service = get(kubeconfig, namespace, "service", "web")
        assert service["spec"]["ports"][0]["port"] == 9090
        assert helm_revisions(kubeconfig, namespace) == ["1"]

        again = deployer(kubeconfig, "up", STACK, "-p", f"namespace={namespace}")
        assert again.returncode == 0, again.stdout + again.stderr
        assert helm_revisions(kubeconfig, namespace) == ["1"]
    finally:
        down = deployer(kubeconfig, "down", STACK, "-p", f"namespace={namespace}")
        assert down.returncode == 0, down.stdout + down.stderr
    assert helm_revisions(kubeconfig, namespace) == []


def test_stack_values_in_run_record(kubeconfig: str, namespace: str) -> None:
    up = deployer(kubeconfig, "up", STACK, "-p", f"namespace={namespace}")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        listed = kubectl(
            kubeconfig,
            "get",
            "configmaps",
            "-n",
            "deployer-runs",
            "-l",
            "deployer.dev/record=run",
            "-o",
            "json",
        )
        records = [
            json.loads(item["data"]["record.json"]) for item in json.loads(listed.stdout)["items"]
        ]
        mine = [r for r in records if r.get("parameters", {}).get("namespace") == namespace]
        assert len(mine) == 1
        templates = {t["name"]: t for t in mine[0]["workflow"]["spec"]["templates"]}
        assert templates["web"]["helm"]["stackValues"] == [
            {
                "message": "from-stack",
                "podAnnotations": None,
                "extraConfig": None,
                "service": {"port": 9090},
            }
        ]
    finally:
        deployer(kubeconfig, "down", STACK, "-p", f"namespace={namespace}")
