"""Shared fixtures: one local control plane per test session, a fresh namespace per test.

Set DEPLOYER_TEST_KUBECONFIG to reuse a running cluster (as `.ci/run` does); otherwise
the session starts its own local cluster and stops it at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[str]:
    """Path of a kubeconfig for a running local control plane."""
    given = os.environ.get("DEPLOYER_TEST_KUBECONFIG")
    if given:
        yield given
        return
    from deployer.local import cluster as local

    name = f"pytest-{os.getpid()}"
    running = local.up(name)
    try:
        yield str(running.kubeconfig)
    finally:
        local.down(name)


def kubectl(kubeconfig: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run kubectl (the locally built one when present) and return the finished process."""
    from deployer.local import kubectl_binary

    binary = kubectl_binary()
    return subprocess.run(
        [str(binary or "kubectl"), "--kubeconfig", kubeconfig, *args],
        check=check,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def namespace(kubeconfig: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards without waiting."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", name)
    # The controller manager creates the default ServiceAccount a moment after the namespace.
    kubectl(
        kubeconfig, "wait", "--for=create", "serviceaccount/default", "-n", name, "--timeout=60s"
    )
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def repo_root() -> Path:
    """The checkout's top folder."""
    return Path(__file__).resolve().parent.parent
