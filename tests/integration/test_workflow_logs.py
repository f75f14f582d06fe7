"""`deployer logs RUN -f` follows every pod of a run, also pods that start after it began."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.integration.test_workflow_basics import ENTRY, deployer, nodes_by_display
from tests.integration.test_workflow_lifecycle import record_of, suspended_run

pytestmark = pytest.mark.cluster


def test_logs_follow_reaches_pods_started_later(kubeconfig: str, namespace: str) -> None:
    run = suspended_run(kubeconfig, namespace)
    with subprocess.Popen(
        [sys.executable, "-c", ENTRY, "logs", run, "-f", "--kubeconfig", kubeconfig],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as logs:
        time.sleep(2.0)
        assert logs.poll() is None, "logs -f ended while the run was suspended"
        resumed = deployer(kubeconfig, "resume", run)
        assert resumed.returncode == 0, resumed.stderr
        _, errors = logs.communicate(timeout=120)
    assert logs.returncode == 0, errors
    nodes = nodes_by_display(record_of(kubeconfig, run))
    # The local cluster serves no container logs, so each pod gets one line saying so.
    for name in ("before", "after"):
        pod = nodes[name]["podName"]
        assert f"log of pod {pod} is not available" in errors
    assert errors.count("is not available") == 2
