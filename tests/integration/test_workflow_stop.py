"""Stopping runs on the local cluster: stop, Ctrl-C and delete of a run still going."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.integration.test_workflow_basics import ENTRY, WORKFLOWS, deployer, nodes_by_display
from tests.integration.test_workflow_lifecycle import record_of, wait_for_node

pytestmark = pytest.mark.cluster


def submit_detached(kubeconfig: str, namespace: str) -> str:
    started = deployer(
        kubeconfig,
        "submit",
        str(WORKFLOWS / "suspend-exit.yaml"),
        "-n",
        namespace,
        "--detach",
        "-o",
        "name",
    )
    assert started.returncode == 0, started.stderr
    return started.stdout.strip()


def test_stop_runs_the_exit_handler(kubeconfig: str, namespace: str) -> None:
    run = submit_detached(kubeconfig, namespace)
    wait_for_node(kubeconfig, run, "approve", "Running")
    shown = deployer(kubeconfig, "get", run)
    assert "approve" in shown.stdout
    assert deployer(kubeconfig, "stop", run).returncode == 0
    watched = deployer(kubeconfig, "watch", run, timeout=120)
    assert watched.returncode == 1
    record = record_of(kubeconfig, run)
    assert record["phase"] == "Failed"
    assert record["message"] == "run stopped"
    bye = nodes_by_display(record)["bye"]
    assert bye["phase"] == "Succeeded", bye["message"]
    assert bye["result"] == "status was Failed"


def test_ctrl_c_stops_run_and_exits_130(kubeconfig: str, namespace: str) -> None:
    command = [
        sys.executable,
        "-c",
        ENTRY,
        "submit",
        str(WORKFLOWS / "suspend-exit.yaml"),
        "-n",
        namespace,
        "-o",
        "name",
        "--kubeconfig",
        kubeconfig,
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        run = process.stdout.readline().strip()
        try:
            wait_for_node(kubeconfig, run, "approve", "Running")
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=120)
        finally:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    record = record_of(kubeconfig, run)
    assert record["phase"] == "Failed"
    assert nodes_by_display(record)["bye"]["result"] == "status was Failed"


def test_delete_of_running_run_needs_force(kubeconfig: str, namespace: str) -> None:
    run = submit_detached(kubeconfig, namespace)
    wait_for_node(kubeconfig, run, "approve", "Running")
    rejected = deployer(kubeconfig, "delete", run)
    assert rejected.returncode == 1
    assert "--force" in rejected.stderr
    assert record_of(kubeconfig, run)["phase"] == "Running"
    forced = deployer(kubeconfig, "delete", run, "--force", timeout=120)
    assert forced.returncode == 0, forced.stderr
    assert deployer(kubeconfig, "get", run).returncode == 1
    # The stopped run's process must not write the record again after the delete.
    time.sleep(3)
    assert deployer(kubeconfig, "get", run).returncode == 1
