"""A stack whose pods crash-loop fails fast, names the pod and reason, keeps earlier waves."""

from __future__ import annotations

import time

import pytest

from tests.integration.test_demo_stacks import deployer, exists

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
