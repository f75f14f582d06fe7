"""Runs across processes: suspend resumed from another shell, retry after SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest

from tests.integration.test_workflow_basics import (
    ENTRY,
    WORKFLOWS,
    deployer,
    nodes_by_display,
    run_pods,
)

pytestmark = pytest.mark.cluster


def record_of(kubeconfig: str, run: str) -> dict[str, Any]:
    shown = deployer(kubeconfig, "get", run, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def wait_for_node(kubeconfig: str, run: str, display: str, phase: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = deployer(kubeconfig, "get", run, "-o", "json")
        if shown.returncode == 0:
            node = nodes_by_display(json.loads(shown.stdout)).get(display)
            if node is not None and node["phase"] == phase:
                return
        time.sleep(0.5)
    raise AssertionError(f"node {display} of run {run} never reached {phase}")


def suspended_run(kubeconfig: str, namespace: str) -> str:
    """Submit the suspend workflow detached and return its run once it waits at `approve`."""
    started = deployer(
        kubeconfig,
        "submit",
        str(WORKFLOWS / "suspend.yaml"),
        "-n",
        namespace,
        "--detach",
        "-o",
        "name",
    )
    assert started.returncode == 0, started.stderr
    run = started.stdout.strip()
    wait_for_node(kubeconfig, run, "approve", "Running")
    return run


def test_suspend_is_resumed_from_another_process(kubeconfig: str, namespace: str) -> None:
    started = deployer(
        kubeconfig,
        "submit",
        str(WORKFLOWS / "suspend.yaml"),
        "-n",
        namespace,
        "--detach",
        "-o",
        "name",
    )
    assert started.returncode == 0, started.stderr
    run = started.stdout.strip()
    wait_for_node(kubeconfig, run, "approve", "Running")
    time.sleep(1.0)
    assert record_of(kubeconfig, run)["phase"] == "Running"
    assert "after" not in nodes_by_display(record_of(kubeconfig, run))

    resumed = deployer(kubeconfig, "resume", run)
    assert resumed.returncode == 0, resumed.stderr
    watched = deployer(kubeconfig, "watch", run, timeout=120)
    assert watched.returncode == 0, watched.stderr
    record = record_of(kubeconfig, run)
    assert record["phase"] == "Succeeded"
    nodes = nodes_by_display(record)
    assert nodes["approve"]["phase"] == "Succeeded"
    assert nodes["after"]["result"] == "after"


def test_stop_request_fails_a_suspended_run(kubeconfig: str, namespace: str) -> None:
    started = deployer(
        kubeconfig,
        "submit",
        str(WORKFLOWS / "suspend.yaml"),
        "-n",
        namespace,
        "--detach",
        "-o",
        "name",
    )
    run = started.stdout.strip()
    wait_for_node(kubeconfig, run, "approve", "Running")
    stopped = deployer(kubeconfig, "stop", run)
    assert stopped.returncode == 0, stopped.stderr
    watched = deployer(kubeconfig, "watch", run, timeout=120)
    assert watched.returncode == 1
    record = record_of(kubeconfig, run)
    assert record["phase"] == "Failed"
    assert "after" not in nodes_by_display(record)


def test_stop_request_ends_a_waiting_manifests_step(kubeconfig: str, namespace: str) -> None:
    started = deployer(
        kubeconfig,
        "submit",
        str(WORKFLOWS / "manifests-unready.yaml"),
        "-n",
        namespace,
        "-p",
        f"namespace={namespace}",
        "--detach",
        "-o",
        "name",
    )
    assert started.returncode == 0, started.stderr
    run = started.stdout.strip()
    wait_for_node(kubeconfig, run, "web", "Running")
    stopped_at = time.monotonic()
    stopped = deployer(kubeconfig, "stop", run)
    assert stopped.returncode == 0, stopped.stderr
    watched = deployer(kubeconfig, "watch", run, timeout=120)
    # The step's timeout is 10 minutes; the stop request must end its wait in seconds.
    assert time.monotonic() - stopped_at < 60
    assert watched.returncode == 1
    record = record_of(kubeconfig, run)
    assert record["phase"] == "Failed"
    assert nodes_by_display(record)["web"]["phase"] in ("Failed", "Error")


def pods_per_node(kubeconfig: str, namespace: str, run: str) -> Counter[str]:
    """Count a run's pods per node, using the node label and the node-name annotation."""
    counts: Counter[str] = Counter()
    labels: dict[str, set[str]] = {}
    for pod in run_pods(kubeconfig, namespace, run):
        name = pod["metadata"]["annotations"]["deployer.dev/node-name"]
        counts[name.rsplit(".", 1)[-1]] += 1
        labels.setdefault(name, set()).add(pod["metadata"]["labels"]["deployer.dev/node"])
    assert all(len(found) == 1 for found in labels.values())
    return counts


def test_sigkilled_run_is_retried_without_rerunning_succeeded_nodes(
    kubeconfig: str, namespace: str
) -> None:
    command = [
        sys.executable,
        "-c",
        ENTRY,
        "submit",
        str(WORKFLOWS / "interrupted.yaml"),
        "-n",
        namespace,
        "-p",
        "pause=4s",
        "-o",
        "name",
        "--kubeconfig",
        kubeconfig,
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        run = process.stdout.readline().strip()
        try:
            wait_for_node(kubeconfig, run, "pause", "Running")
        finally:
            process.kill()
            process.wait(30)
    assert process.returncode == -9
    killed = record_of(kubeconfig, run)
    assert killed["phase"] == "Running"
    assert pods_per_node(kubeconfig, namespace, run) == Counter({"first": 1, "also-first": 1})

    retried = deployer(kubeconfig, "retry", run, "-o", "json", timeout=120)
    assert retried.returncode == 0, retried.stderr
    record = record_of(kubeconfig, run)
    assert record["phase"] == "Succeeded"
    assert record["attempt"] == 1
    assert nodes_by_display(record)["last"]["result"] == "last after first"
    assert pods_per_node(kubeconfig, namespace, run) == Counter(
        {"first": 1, "also-first": 1, "last": 1}
    )


def test_delete_removes_record_and_pods(kubeconfig: str, namespace: str) -> None:
    started = deployer(
        kubeconfig, "submit", str(WORKFLOWS / "hello-world.yaml"), "-n", namespace, "-o", "name"
    )
    run = started.stdout.strip()
    assert len(run_pods(kubeconfig, namespace, run)) == 1
    deleted = deployer(kubeconfig, "delete", run)
    assert deleted.returncode == 0, deleted.stderr
    assert deployer(kubeconfig, "get", run).returncode == 1
    remaining = [
        p
        for p in run_pods(kubeconfig, namespace, run)
        if not p["metadata"].get("deletionTimestamp")
    ]
    assert remaining == []


def test_retry_rejects_a_run_still_running(kubeconfig: str, namespace: str) -> None:
    started = deployer(
        kubeconfig,
        "submit",
        str(WORKFLOWS / "suspend.yaml"),
        "-n",
        namespace,
        "--detach",
        "-o",
        "name",
    )
    run = started.stdout.strip()
    wait_for_node(kubeconfig, run, "approve", "Running")
    retried = deployer(kubeconfig, "retry", run)
    assert retried.returncode == 1
    assert "still running" in retried.stderr
    assert deployer(kubeconfig, "terminate", run).returncode == 0
    assert deployer(kubeconfig, "watch", run, timeout=120).returncode == 1
