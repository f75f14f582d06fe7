"""A stack whose pods crash-loop fails fast, names the pod and reason, keeps earlier waves."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.integration.test_demo_stacks import REPO, deployer, exists, run_record, task_nodes

pytestmark = pytest.mark.cluster

STACK = "tests/stacks/crashloop.yaml"


def test_crashloop_stack_fails_fast(kubeconfig: str, namespace: str) -> None:
    started = time.monotonic()
    done = deployer(kubeconfig, "up", STACK, "-p", f"namespace={namespace}")
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    # The app task's timeout is 5m; failing on the pod's state takes seconds.
    assert elapsed < 60
    error = done.stderr
    assert f"Deployment {namespace}/app" in error
    assert "pod app-" in error
    assert "CrashLoopBackOff" in error
    assert "deployer retry crashloop-" in error


def test_crashloop_stack_keeps_earlier_waves(kubeconfig: str, namespace: str) -> None:
    done = deployer(kubeconfig, "up", STACK, "-p", f"namespace={namespace}")
    assert done.returncode == 1
    assert exists(kubeconfig, "configmap", "settings", "-n", namespace)
    assert exists(kubeconfig, "deployment", "app", "-n", namespace)
    assert not exists(kubeconfig, "configmap", "after-app", "-n", namespace)


def test_retry_continues_failed_stack(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    # A copy of the test stack, so the cause can be fixed between `up` and `retry`.
    shutil.copytree(REPO / "tests" / "stacks", tmp_path / "stacks")
    stack = tmp_path / "stacks" / "crashloop.yaml"
    failed = deployer(kubeconfig, "up", str(stack), "-p", f"namespace={namespace}")
    assert failed.returncode == 1
    found = re.search(r"deployer retry (crashloop-[a-z0-9]+)", failed.stderr)
    assert found, failed.stderr
    run = found.group(1)
    before = task_nodes(run_record(kubeconfig, run))

    app = tmp_path / "stacks" / "crashloop" / "app-dep.yaml"
    app.write_text(app.read_text().replace("deployer.dev/sim: crashloop", "example.com/fixed: x"))
    retried = deployer(kubeconfig, "retry", run)
    assert retried.returncode == 0, retried.stdout + retried.stderr

    after = task_nodes(run_record(kubeconfig, run))
    assert after["settings"]["startedAt"] == before["settings"]["startedAt"]
    assert after["app"]["phase"] == "Succeeded"
    assert exists(kubeconfig, "configmap", "after-app", "-n", namespace)
