"""`deployer submit --watch` draws the state of each object a deployer-kind task applies."""

from __future__ import annotations

import pytest

from tests.integration.test_workflow_basics import WORKFLOWS, deployer

pytestmark = pytest.mark.cluster


def test_submit_watch_shows_object_states(kubeconfig: str, namespace: str) -> None:
    workflow = str(WORKFLOWS / "manifests-step.yaml")
    done = deployer(
        kubeconfig, "submit", "--watch", workflow, "-n", namespace, "-p", f"namespace={namespace}"
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "ConfigMap" in line and "│" in line]
    assert rows, done.stdout
    assert "config" in rows[0]
    assert "Ready" in rows[0]
    assert "greeting" in done.stdout


def test_submit_plain_prints_no_table(kubeconfig: str, namespace: str) -> None:
    workflow = str(WORKFLOWS / "manifests-step.yaml")
    done = deployer(kubeconfig, "submit", workflow, "-n", namespace, "-p", f"namespace={namespace}")
    assert done.returncode == 0, done.stderr
    assert "│" not in done.stdout
