"""`deployer status STACK`: its exit code and the words of its `ready` column."""

from __future__ import annotations

import pytest

from tests.integration.test_demo_stacks import deployer

pytestmark = pytest.mark.cluster

CRASHLOOP = "tests/stacks/crashloop.yaml"


def test_status_of_undeployed_stack_fails(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "status", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no: not deployed" in done.stdout
    assert "no (1)" not in done.stdout
    assert "not ready: crashloop-workflow.yaml task settings: not deployed" in done.stdout


def test_status_counts_unready_objects(kubeconfig: str, namespace: str) -> None:
    up = deployer(kubeconfig, "up", CRASHLOOP, "-p", f"namespace={namespace}")
    assert up.returncode == 1, up.stdout + up.stderr
    done = deployer(kubeconfig, "status", CRASHLOOP, "-p", f"namespace={namespace}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no: 1 of 1 object(s) not ready" in done.stdout
    assert f"not ready: Deployment {namespace}/app: pod app-" in done.stdout
