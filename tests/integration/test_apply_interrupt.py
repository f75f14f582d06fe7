"""Ctrl-C during an apply: the message names the waves in place and what to run next."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

STACK = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {COLOR: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {deployer.dev/wave: "1"}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {deployer.dev/sim: unready}
    spec:
      containers: [{name: web, image: nginx}]
"""


def test_interrupt_names_waves_and_rerun(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    command = [sys.executable, "-c", "from deployer.cli.main import main; main()", "apply"]
    command += ["-f", str(path), "--kubeconfig", kubeconfig, "-n", namespace]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if line.startswith(f"Deployment {namespace}/web") and "Applied" in line:
            break
        assert time.monotonic() < deadline, "the Deployment was never applied"
    time.sleep(0.5)  # let the readiness wait start
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "apply interrupted in wave 2 of 2" in stderr
    assert "wave 1 is applied and ready" in stderr
    assert "1 of 1 object(s) of this wave were applied" in stderr
    assert f"still not ready: Deployment {namespace}/web" in stderr
    assert "run the same apply again to continue" in stderr
    assert "Traceback" not in stderr
