"""Apply commands' input errors, run as a user runs them, before any cluster is contacted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _deployer(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A missing kubeconfig makes sure that no command reaches a cluster by accident.
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    return subprocess.run(
        [sys.executable, "-c", "from deployer.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("command", ["apply", "plan", "template", "diff", "destroy"])
def test_missing_file_exits_one_like_kubectl(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nope.yaml"
    result = _deployer(tmp_path, command, "-f", str(missing))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: file or folder not found: {missing}"


def test_plan_of_workflow_suggests_submit(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: hi-}\n"
        "spec:\n  entrypoint: main\n  templates: [{name: main, container: {image: busybox}}]\n"
    )
    result = _deployer(tmp_path, "plan", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert "is an Argo Workflow object" in result.stderr
    assert f"use `deployer submit {path}`" in result.stderr
