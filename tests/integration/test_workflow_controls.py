"""resume, stop and terminate reject a run whose process is gone, and resume names the nodes
that are suspended."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.test_workflow_basics import ENTRY, WORKFLOWS, deployer
from tests.integration.test_workflow_lifecycle import record_of, suspended_run, wait_for_node

pytestmark = pytest.mark.cluster


def killed_suspended_run(kubeconfig: str, namespace: str) -> str:
    """Start the suspend workflow in a process, kill it at the suspend, return the run."""
    command = [sys.executable, "-c", ENTRY, "submit", str(WORKFLOWS / "suspend.yaml")]
    command += ["-n", namespace, "-o", "name", "--kubeconfig", kubeconfig]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        run = process.stdout.readline().strip()
        try:
            wait_for_node(kubeconfig, run, "approve", "Running")
        finally:
            process.kill()
            process.wait(30)
    return run


@pytest.mark.parametrize("control", ["resume", "stop", "terminate"])
def test_abandoned_run_rejects_controls(kubeconfig: str, namespace: str, control: str) -> None:
    run = killed_suspended_run(kubeconfig, namespace)

    answer = deployer(kubeconfig, control, run)

    assert answer.returncode != 0
    assert f"run {run} is abandoned" in answer.stderr
    assert f"deployer retry {run}" in answer.stderr
    assert record_of(kubeconfig, run)["phase"] == "Running"


def test_resume_unknown_node_lists_suspended(kubeconfig: str, namespace: str) -> None:
    run = suspended_run(kubeconfig, namespace)
    try:
        answer = deployer(kubeconfig, "resume", run, "--node", "aprove")
        assert answer.returncode == 0, answer.stderr
        assert "has no suspended node 'aprove' (suspended now: approve)" in answer.stderr
    finally:
        deployer(kubeconfig, "terminate", run)
